# fuzz targets of message/ (header, mime, decode). Each also builds a replay program
# that `make check` runs over its corpus (tests/fuzz/corpus/NAME).
MW_FUZZ_TARGETS += header mime decode

check_PROGRAMS += tests/fuzz/header_replay tests/fuzz/mime_replay tests/fuzz/decode_replay
TESTS += tests/fuzz/header_replay tests/fuzz/mime_replay tests/fuzz/decode_replay

tests_fuzz_header_replay_SOURCES = tests/fuzz/header_fuzz.cpp tests/fuzz/replay_main.cpp
tests_fuzz_header_replay_CPPFLAGS = $(AM_CPPFLAGS) \
	-DMW_FUZZ_CORPUS='"$(abs_top_srcdir)/tests/fuzz/corpus/header"'
tests_fuzz_header_replay_LDADD = libmw_message.a libmw_base.a

tests_fuzz_mime_replay_SOURCES = tests/fuzz/mime_fuzz.cpp tests/fuzz/replay_main.cpp
tests_fuzz_mime_replay_CPPFLAGS = $(AM_CPPFLAGS) \
	-DMW_FUZZ_CORPUS='"$(abs_top_srcdir)/tests/fuzz/corpus/mime"'
tests_fuzz_mime_replay_LDADD = libmw_message.a libmw_base.a

tests_fuzz_decode_replay_SOURCES = tests/fuzz/decode_fuzz.cpp tests/fuzz/replay_main.cpp
tests_fuzz_decode_replay_CPPFLAGS = $(AM_CPPFLAGS) \
	-DMW_FUZZ_CORPUS='"$(abs_top_srcdir)/tests/fuzz/corpus/decode"'
tests_fuzz_decode_replay_LDADD = libmw_message.a libmw_base.a

# html: message::HtmlText (text.h), chunking-independent, bounded (issue 16 point 4).
MW_FUZZ_TARGETS += html
check_PROGRAMS += tests/fuzz/html_replay
TESTS += tests/fuzz/html_replay
tests_fuzz_html_replay_SOURCES = tests/fuzz/html_fuzz.cpp tests/fuzz/replay_main.cpp
tests_fuzz_html_replay_CPPFLAGS = $(AM_CPPFLAGS) \
	-DMW_FUZZ_CORPUS='"$(abs_top_srcdir)/tests/fuzz/corpus/html"'
tests_fuzz_html_replay_LDADD = libmw_message.a libmw_base.a
