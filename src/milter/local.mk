noinst_LIBRARIES += libmw_milter.a
libmw_milter_a_SOURCES = \
	src/milter/milter.cpp \
	src/milter/privileges.cpp \
	src/milter/privileges.h \
	src/milter/reply.cpp \
	src/milter/reply.h \
	src/milter/signals.cpp \
	src/milter/signals.h \
	src/milter/socket.cpp \
	src/milter/socket.h
