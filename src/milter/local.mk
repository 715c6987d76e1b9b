# milter
