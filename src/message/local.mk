noinst_LIBRARIES += libmw_message.a
libmw_message_a_SOURCES = \
	src/message/defects.cpp \
	src/message/envelope.cpp \
	src/message/header.cpp
