noinst_LIBRARIES += libmw_message.a
# Only .cpp files here: `make fuzz` hands this list to clang as is. Private headers
# go to EXTRA_DIST.
libmw_message_a_SOURCES = \
	src/message/defects.cpp \
	src/message/envelope.cpp \
	src/message/header.cpp \
	src/message/utf8.cpp \
	src/message/decode.cpp \
	src/message/reader.cpp \
	src/message/mime.cpp \
	src/message/address.cpp \
	src/message/text.cpp \
	src/message/text_extractor.cpp
EXTRA_DIST += src/message/utf8.h src/message/html_entities.inc src/message/gen_html_entities.py
