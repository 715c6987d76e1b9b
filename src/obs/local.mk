noinst_LIBRARIES += libmw_obs.a
libmw_obs_a_SOURCES = \
	src/obs/log.cpp \
	src/obs/counters.cpp \
	src/obs/exposition.cpp
libmw_obs_a_CXXFLAGS = $(AM_CXXFLAGS) $(FMT_CFLAGS)
