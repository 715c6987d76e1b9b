# bench/: benchmark programs and scripts, built and run only by `make bench` (never by
# `make`). Method and results: doc/PERFORMANCE.md.
EXTRA_PROGRAMS = bench/spf_bench
bench_spf_bench_SOURCES = bench/spf_bench.cpp tests/support/nsd_server.h
bench_spf_bench_CXXFLAGS = $(AM_CXXFLAGS) $(BENCHMARK_CFLAGS) $(UNBOUND_CFLAGS)
bench_spf_bench_LDADD = $(MW_SPF_LINK) $(FMT_LIBS) $(BENCHMARK_LIBS) -lpthread
CLEANFILES += bench/spf_bench
# DKIM verification per message (rsa-sha256 2048, ed25519) and its OpenSSL floor.
EXTRA_PROGRAMS += bench/dkim_bench
bench_dkim_bench_SOURCES = bench/dkim_bench.cpp
bench_dkim_bench_CPPFLAGS = $(AM_CPPFLAGS) -DMW_TEST_KEYS_DIR='"$(abs_top_srcdir)/tests/keys"'
bench_dkim_bench_CXXFLAGS = $(AM_CXXFLAGS) $(BENCHMARK_CFLAGS)
bench_dkim_bench_LDADD = $(MW_DKIM_LINK) $(BENCHMARK_LIBS) -lcrypto -lpthread
CLEANFILES += bench/dkim_bench
EXTRA_DIST += doc/PERFORMANCE.md
# ARC chain validation per message (2-instance and 1-instance dkimpy chains) beside DKIM
# verification of a comparable message (issue 18); run by bench/run-checks-ladder.sh.
EXTRA_PROGRAMS += bench/arc_bench
bench_arc_bench_SOURCES = bench/arc_bench.cpp
bench_arc_bench_CXXFLAGS = $(AM_CXXFLAGS) $(BENCHMARK_CFLAGS)
bench_arc_bench_LDADD = libmw_arc.a $(MW_DKIM_LINK) $(CRYPTO_LIBS) $(BENCHMARK_LIBS) -lpthread
CLEANFILES += bench/arc_bench
# The Scan pipeline alone, in process (what the checks cost without libmilter).
EXTRA_PROGRAMS += bench/scan_bench
bench_scan_bench_SOURCES = bench/scan_bench.cpp
bench_scan_bench_CXXFLAGS = $(AM_CXXFLAGS) $(BENCHMARK_CFLAGS)
bench_scan_bench_LDADD = $(MW_CORE_LINK) $(BENCHMARK_LIBS)
CLEANFILES += bench/scan_bench

# HTML part to body:text: our tokenizer (generated HTML 5 reference table) against
# libxml2's HTML push parser (without libxml2-dev it measures ours alone).
EXTRA_PROGRAMS += bench/html_bench
bench_html_bench_SOURCES = bench/html_bench.cpp
bench_html_bench_CXXFLAGS = $(AM_CXXFLAGS) $(BENCHMARK_CFLAGS) $(XML2_CFLAGS)
bench_html_bench_LDADD = libmw_message.a libmw_base.a $(XML2_LIBS) $(BENCHMARK_LIBS) -lpthread
CLEANFILES += bench/html_bench

# The whole-filter benchmark (issue 7): milter_load, our MTA side of the milter protocol
# under load, and ref_milter, the minimal libmilter milter it is compared against. They
# are check programs so that `make check` builds them and bench/smoke_test.sh proves they
# work together (a few messages, well under a second); the measurements themselves are
# bench/run-milter-bench.sh and bench/run-postfix-bench.sh (need root; see
# doc/PERFORMANCE.md).
check_PROGRAMS += bench/milter_load bench/ref_milter
bench_milter_load_SOURCES = bench/milter_load.cpp \
	tests/tools/milter_protocol.cpp tests/tools/milter_protocol.h
bench_milter_load_LDADD = libmw_base.a -lpthread
bench_ref_milter_SOURCES = bench/ref_milter.c
bench_ref_milter_CFLAGS = -std=gnu11 -Wall -Wextra -Werror $(MW_SAN_FLAGS) -g -O2
bench_ref_milter_LDADD = $(MILTER_LIBS) -lpthread
TESTS += bench/smoke_test.sh
EXTRA_DIST += bench/smoke_test.sh bench/run-milter-bench.sh bench/run-postfix-bench.sh \
	bench/lib-bench.sh bench/bench_summary.py bench/run-soak.sh bench/run-checks-ladder.sh \
	bench/run-latency-bench.sh bench/latency_bench.py

# Extra arguments for the benchmark program, e.g.
#   make bench BENCH_ARGS=--benchmark_filter=ZoneResolver
BENCH_ARGS =

.PHONY: bench
bench: bench/spf_bench$(EXEEXT) bench/dkim_bench$(EXEEXT) bench/rules_bench$(EXEEXT) bench/html_bench$(EXEEXT) bench/milter_load$(EXEEXT) bench/ref_milter$(EXEEXT) \
		mailwarden$(EXEEXT)
	./bench/spf_bench$(EXEEXT) $(BENCH_ARGS)
	./bench/dkim_bench$(EXEEXT) $(BENCH_ARGS)
	./bench/rules_bench$(EXEEXT) $(BENCH_ARGS)
	./bench/html_bench$(EXEEXT) $(BENCH_ARGS)

# The whole-filter benchmarks, one command per table of doc/PERFORMANCE.md (root: the
# nsd namespace and the private Postfix). Script options through MILTER_BENCH_ARGS, e.g.
#   sudo make bench-milter MILTER_BENCH_ARGS="--dns nsd --no-memory --out /tmp/r"
MILTER_BENCH_ARGS =
.PHONY: bench-milter bench-postfix bench-soak bench-checks bench-latency
MILTER_BENCH_DEPS = bench/milter_load$(EXEEXT) bench/ref_milter$(EXEEXT) bench/rules_bench$(EXEEXT) \
	bench/scan_bench$(EXEEXT) bench/arc_bench$(EXEEXT) tests/tools/dkim_sign$(EXEEXT) mailwarden$(EXEEXT)
bench-milter: $(MILTER_BENCH_DEPS)
	bash $(top_srcdir)/bench/run-milter-bench.sh --build . $(MILTER_BENCH_ARGS)
bench-postfix: $(MILTER_BENCH_DEPS)
	bash $(top_srcdir)/bench/run-postfix-bench.sh --build . $(MILTER_BENCH_ARGS)
bench-soak: $(MILTER_BENCH_DEPS)
	bash $(top_srcdir)/bench/run-soak.sh --build . $(MILTER_BENCH_ARGS)
bench-checks: $(MILTER_BENCH_DEPS)
	bash $(top_srcdir)/bench/run-checks-ladder.sh --build . $(MILTER_BENCH_ARGS)
# Added latency per message against a DNS 20 ms late: mailwarden against opendkim +
# opendmarc (issue 17; installs those two with apt-get if missing), e.g.
#   sudo make bench-latency MILTER_BENCH_ARGS="--runs 3 --messages 200 --delay-ms 20"
bench-latency: bench/milter_load$(EXEEXT) tests/tools/dkim_sign$(EXEEXT) tests/tools/dns_delay$(EXEEXT) \
		mailwarden$(EXEEXT)
	bash $(top_srcdir)/bench/run-latency-bench.sh --build . $(MILTER_BENCH_ARGS)


# The rules matcher against one PCRE2 regex at a time (bench/rules_bench.cpp). Without
# libpcre2-8 (configure says so) it measures the matcher alone.
EXTRA_PROGRAMS += bench/rules_bench
bench_rules_bench_SOURCES = bench/rules_bench.cpp
bench_rules_bench_CXXFLAGS = $(AM_CXXFLAGS) $(BENCHMARK_CFLAGS) $(HS_CFLAGS) $(PCRE2_CFLAGS)
bench_rules_bench_LDADD = libmw_rules.a libmw_message.a libmw_obs.a libmw_base.a $(YAML_LIBS) \
	$(FMT_LIBS) $(HS_LIBS) $(PCRE2_LIBS) $(BENCHMARK_LIBS) -lpthread
CLEANFILES += bench/rules_bench

# The report-generation benchmark's store filler (issue 20; bench/run-report-bench.sh).
EXTRA_PROGRAMS += bench/report_fill
bench_report_fill_SOURCES = bench/report_fill.cpp
bench_report_fill_CXXFLAGS = $(AM_CXXFLAGS) $(SQLITE3_CFLAGS)
bench_report_fill_LDADD = $(MW_REPORT_LINK)
CLEANFILES += bench/report_fill
EXTRA_DIST += bench/run-report-bench.sh bench/profile-mailwarden.sh
# Report generation for 1,000,000 recorded messages over 10,000 domains (issue 20):
#   make bench-reports [REPORT_BENCH_ARGS="--messages 100000 --domains 1000"]
REPORT_BENCH_ARGS =
.PHONY: bench-reports
bench-reports: bench/report_fill$(EXEEXT) mailwarden$(EXEEXT)
	bash $(top_srcdir)/bench/run-report-bench.sh --build . $(REPORT_BENCH_ARGS)

# mailwarden against its peers in one run (issue 21): the empty libmilter milter,
# opendkim, opendmarc, rspamd (installed with apt-get if missing) and mailwarden, same
# messages, same DNS, same load; verdicts checked; p99 at 80 % of each one's maximum:
#   sudo make bench-peers [MILTER_BENCH_ARGS="--scale 0.2 --runs 3"]
.PHONY: bench-peers
bench-peers: bench/milter_load$(EXEEXT) bench/ref_milter$(EXEEXT) tests/tools/dkim_sign$(EXEEXT) \
		mailwarden$(EXEEXT)
	bash $(top_srcdir)/bench/run-peers-bench.sh --build . $(MILTER_BENCH_ARGS)
EXTRA_DIST += bench/run-peers-bench.sh bench/peers_summary.py bench/peers/rspamd/rspamd.conf \
	bench/peers/rspamd/local.d/antivirus.conf \
	bench/peers/rspamd/local.d/asn.conf \
	bench/peers/rspamd/local.d/bimi.conf \
	bench/peers/rspamd/local.d/clickhouse.conf \
	bench/peers/rspamd/local.d/dcc.conf \
	bench/peers/rspamd/local.d/elastic.conf \
	bench/peers/rspamd/local.d/external_services.conf \
	bench/peers/rspamd/local.d/fuzzy_check.conf \
	bench/peers/rspamd/local.d/greylist.conf \
	bench/peers/rspamd/local.d/history_redis.conf \
	bench/peers/rspamd/local.d/logging.inc \
	bench/peers/rspamd/local.d/metadata_exporter.conf \
	bench/peers/rspamd/local.d/milter_headers.conf \
	bench/peers/rspamd/local.d/neural.conf \
	bench/peers/rspamd/local.d/options.inc \
	bench/peers/rspamd/local.d/p0f.conf \
	bench/peers/rspamd/local.d/ratelimit.conf \
	bench/peers/rspamd/local.d/rbl.conf \
	bench/peers/rspamd/local.d/replies.conf \
	bench/peers/rspamd/local.d/reputation.conf \
	bench/peers/rspamd/local.d/url_redirector.conf \
	bench/peers/rspamd/local.d/worker-proxy.inc
