check_PROGRAMS += tests/unit/obs/obs_tests
TESTS += tests/unit/obs/obs_tests
tests_unit_obs_obs_tests_SOURCES = tests/unit/obs/exposition_test.cpp
tests_unit_obs_obs_tests_CXXFLAGS = $(MW_GTEST_CXXFLAGS)
tests_unit_obs_obs_tests_LDADD = libmw_obs.a libmw_base.a $(FMT_LIBS) $(MW_GTEST_LINK)
