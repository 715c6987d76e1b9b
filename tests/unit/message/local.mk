# unit tests of message/
check_PROGRAMS += tests/unit/message/message_tests
TESTS += tests/unit/message/message_tests
tests_unit_message_message_tests_SOURCES = \
	tests/unit/message/testing.h \
	tests/unit/message/header_test.cpp \
	tests/unit/message/reader_test.cpp \
	tests/unit/message/decode_test.cpp \
	tests/unit/message/mime_test.cpp \
	tests/unit/message/memory_test.cpp \
	tests/unit/message/text_test.cpp \
	tests/unit/message/text_extractor_test.cpp
tests_unit_message_message_tests_CXXFLAGS = $(MW_GTEST_CXXFLAGS)
tests_unit_message_message_tests_LDADD = libmw_message.a libmw_base.a $(MW_GTEST_LINK)
