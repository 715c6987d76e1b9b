check_PROGRAMS += tests/unit/milter/milter_tests
TESTS += tests/unit/milter/milter_tests
tests_unit_milter_milter_tests_SOURCES = tests/unit/milter/milter_test.cpp src/milter/socket.cpp \
	src/milter/reply.cpp
tests_unit_milter_milter_tests_CXXFLAGS = $(MW_GTEST_CXXFLAGS)
tests_unit_milter_milter_tests_LDADD = $(MW_GTEST_LINK)
