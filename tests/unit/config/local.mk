# unit tests of config/
check_PROGRAMS += tests/unit/config/config_tests
TESTS += tests/unit/config/config_tests
tests_unit_config_config_tests_SOURCES = \
	tests/unit/config/config_test.cpp \
	tests/unit/config/checks_test.cpp \
	tests/unit/config/dmarc_config_test.cpp \
	tests/unit/config/reputation_config_test.cpp \
	tests/unit/config/arc_config_test.cpp \
	tests/unit/config/metrics_config_test.cpp \
	tests/unit/config/bypass_config_test.cpp \
	tests/unit/config/testing.h
tests_unit_config_config_tests_CXXFLAGS = $(MW_GTEST_CXXFLAGS)
tests_unit_config_config_tests_CPPFLAGS = $(AM_CPPFLAGS) \
	-DMW_TEST_DATA='"$(abs_top_srcdir)/tests/unit/config/cases"' \
	-DMW_CONTRIB_DIR='"$(abs_top_srcdir)/contrib"'
tests_unit_config_config_tests_LDADD = libmw_config.a libmw_report.a libmw_reputation.a libmw_dns.a libmw_obs.a libmw_base.a $(IDN2_LIBS) \
	$(YAML_LIBS) $(FMT_LIBS) $(MW_GTEST_LINK)
EXTRA_DIST += tests/unit/config/cases contrib/mailwarden.yaml
