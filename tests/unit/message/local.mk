# unit tests of message/
