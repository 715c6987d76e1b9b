check_PROGRAMS += tests/unit/metrics/metrics_tests
TESTS += tests/unit/metrics/metrics_tests
tests_unit_metrics_metrics_tests_SOURCES = tests/unit/metrics/server_test.cpp \
	tests/support/lsan_opendkim.cpp
tests_unit_metrics_metrics_tests_CXXFLAGS = $(MW_GTEST_CXXFLAGS)
tests_unit_metrics_metrics_tests_LDADD = libmw_metrics.a $(MW_CORE_LINK) $(MHD_LIBS) \
	$(MW_GTEST_LINK)
