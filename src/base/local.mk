noinst_LIBRARIES += libmw_base.a
libmw_base_a_SOURCES = \
	src/base/result.cpp \
	src/base/ascii.cpp \
	src/base/clock.cpp \
	src/base/task_pool.cpp \
	src/base/network.cpp
