# unit tests of verdict/
