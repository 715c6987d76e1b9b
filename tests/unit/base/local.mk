check_PROGRAMS += tests/unit/base/base_tests
TESTS += tests/unit/base/base_tests
tests_unit_base_base_tests_SOURCES = tests/unit/base/base_test.cpp \
	tests/unit/base/task_pool_test.cpp
tests_unit_base_base_tests_CXXFLAGS = $(MW_GTEST_CXXFLAGS)
tests_unit_base_base_tests_LDADD = libmw_base.a $(MW_GTEST_LINK)
