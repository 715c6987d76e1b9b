# unit tests of dmarc/ and of message/address (the From parser DMARC depends on).
check_PROGRAMS += tests/unit/dmarc/dmarc_tests
TESTS += tests/unit/dmarc/dmarc_tests
tests_unit_dmarc_dmarc_tests_SOURCES = \
	tests/unit/dmarc/address_test.cpp \
	tests/unit/dmarc/record_test.cpp \
	tests/unit/dmarc/discovery_test.cpp
tests_unit_dmarc_dmarc_tests_CXXFLAGS = $(MW_GTEST_CXXFLAGS)
tests_unit_dmarc_dmarc_tests_LDADD = $(MW_DMARC_LINK) $(MW_GTEST_LINK)
