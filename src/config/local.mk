# config: the YAML configuration file -> each module's Options (yaml-cpp lives here).
# Only .cpp files in _SOURCES: `make fuzz` hands this list to clang as is.
noinst_LIBRARIES += libmw_config.a
libmw_config_a_SOURCES = \
	src/config/config.cpp \
	src/config/checks.cpp
libmw_config_a_CXXFLAGS = $(AM_CXXFLAGS) $(YAML_CFLAGS) $(FMT_CFLAGS)
EXTRA_DIST += src/config/checks.h
