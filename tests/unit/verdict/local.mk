check_PROGRAMS += tests/unit/verdict/verdict_tests
TESTS += tests/unit/verdict/verdict_tests
tests_unit_verdict_verdict_tests_SOURCES = tests/unit/verdict/verdict_test.cpp
tests_unit_verdict_verdict_tests_CXXFLAGS = $(MW_GTEST_CXXFLAGS)
tests_unit_verdict_verdict_tests_LDADD = libmw_verdict.a libmw_message.a libmw_base.a $(MW_GTEST_LINK)
