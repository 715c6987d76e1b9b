# unit tests of spf/: the record parser (a table of valid and invalid records with the
# reason) and check_host() over a ZoneResolver.
check_PROGRAMS += tests/unit/spf/spf_tests
TESTS += tests/unit/spf/spf_tests
tests_unit_spf_spf_tests_SOURCES = \
	tests/unit/spf/record_test.cpp \
	tests/unit/spf/macro_test.cpp \
	tests/unit/spf/check_test.cpp
tests_unit_spf_spf_tests_CXXFLAGS = $(MW_GTEST_CXXFLAGS)
tests_unit_spf_spf_tests_LDADD = $(MW_SPF_LINK) $(MW_GTEST_LINK)
