# unit tests of scan/
