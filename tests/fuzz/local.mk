# Fuzz targets. Each target NAME has tests/fuzz/NAME_fuzz.cpp (LLVMFuzzerTestOneInput)
# and a seed corpus in tests/fuzz/corpus/NAME/. `make check` replays every corpus through
# a plain main() (under the sanitizers in the ASan/UBSan build); `make fuzz` builds real
# libFuzzer binaries with clang (tests/fuzz/fuzz-NAME).
EXTRA_DIST += tests/fuzz/corpus
include tests/fuzz/message.mk
include tests/fuzz/config.mk
include tests/fuzz/verdict.mk
include tests/fuzz/dns.mk
include tests/fuzz/spf.mk
include tests/fuzz/dkim.mk
include tests/fuzz/arc.mk
include tests/fuzz/dmarc.mk
include tests/fuzz/rules.mk
include tests/fuzz/scan.mk
include tests/fuzz/report.mk

MW_FUZZ_LIBCODE = $(filter %.cpp,$(libmw_scan_a_SOURCES)) $(libmw_config_a_SOURCES) $(libmw_rules_a_SOURCES) $(libmw_verdict_a_SOURCES) \
	$(libmw_spf_a_SOURCES) $(libmw_dkim_a_SOURCES) $(libmw_arc_a_SOURCES) $(libmw_dmarc_a_SOURCES) $(libmw_reputation_a_SOURCES) $(libmw_message_a_SOURCES) $(libmw_dns_a_SOURCES) \
	$(libmw_obs_a_SOURCES) $(libmw_base_a_SOURCES) $(libmw_report_a_SOURCES)

.PHONY: fuzz
fuzz:
	@if test "$(CLANGXX)" = no; then echo "make fuzz needs clang: apt-get install clang" >&2; exit 1; fi
	@for t in $(MW_FUZZ_TARGETS); do \
	  echo "  CLANG    tests/fuzz/fuzz-$$t"; \
	  $(CLANGXX) -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined \
	    -I$(top_srcdir)/include -I$(top_srcdir)/src -I$(top_builddir) -DMW_FUZZ_SRCDIR='"$(abs_top_srcdir)"' $(FMT_CFLAGS) $(YAML_CFLAGS) $(LDNS_CFLAGS) $(UNBOUND_CFLAGS) $(HS_CFLAGS) \
	    $(SQLITE3_CFLAGS) $(HIREDIS_CFLAGS) $(XML2_CFLAGS) $(ZLIB_CFLAGS) \
	    $(top_srcdir)/tests/fuzz/$${t}_fuzz.cpp \
	    $(addprefix $(top_srcdir)/,$(MW_FUZZ_LIBCODE)) \
	    $(YAML_LIBS) $(FMT_LIBS) $(SPF2_LIBS) $(OPENDKIM_LIBS) $(LDNS_LIBS) $(IDN2_LIBS) $(UNBOUND_LIBS) $(HS_LIBS) $(CRYPTO_LIBS) \
	    $(SQLITE3_LIBS) $(HIREDIS_LIBS) $(XML2_LIBS) $(ZLIB_LIBS) -lpthread \
	    -o tests/fuzz/fuzz-$$t || exit 1; \
	done
	@echo "run one with: tests/fuzz/fuzz-NAME -max_total_time=60 tests/fuzz/corpus/NAME"
CLEANFILES += $(addprefix tests/fuzz/fuzz-,$(MW_FUZZ_TARGETS))
