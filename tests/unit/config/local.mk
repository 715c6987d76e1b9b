# unit tests of config/
