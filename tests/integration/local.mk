# Integration tests: a private Postfix on loopback (tests/integration/lib.sh), swaks as
# the client, a capture server as the next hop, mailwarden as the milter. They need
# root and the postfix and swaks packages, so they are not part of `make check`:
#   sudo make check-integration                 # mailwarden from this build tree
#   sudo tests/integration/postfix_relay_test.sh   # one test; each prints "N passed, N failed"
# A test exits 77 (skip) when it needs a mailwarden binary that is not there.
MW_INTEG_TESTS = \
	tests/integration/postfix_relay_test.sh \
	tests/integration/harness_test.sh \
	tests/integration/postfix_milter_test.sh \
	tests/integration/memory_test.sh \
	tests/integration/sendmail_test.sh \
	tests/integration/spf_test.sh \
	tests/integration/rules_test.sh \
	tests/integration/metrics_test.sh \
	tests/integration/dmarc_test.sh \
	tests/integration/dmarc_report_test.sh \
	tests/integration/dmarc_redis_test.sh \
	tests/integration/arc_test.sh \
	tests/integration/arc_seal_test.sh \
	tests/integration/reputation_test.sh \
	tests/integration/dns_overlap_test.sh \
	tests/integration/deb_package_test.sh \
	tests/integration/install_test.sh \
	tests/integration/fault_injection_test.sh \
	tests/integration/bypass_test.sh
EXTRA_DIST += $(MW_INTEG_TESTS) \
	tests/integration/lib.sh \
	tests/integration/netns_dns.sh \
	tests/integration/messages.sh \
	tests/integration/mw_capture.py \
	tests/integration/mw_msgtool.py \
	tests/integration/mw_fake_milter.py \
	tests/integration/sendmail_capture.py \
	tests/integration/spf.zone \
	tests/integration/dmarc.zone \
	tests/integration/dmarc_report.zone \
	tests/integration/reputation.zone \
	tests/integration/reputation-reverse.zone

.PHONY: check-integration
check-integration:
	@failed=0; for t in $(MW_INTEG_TESTS); do \
	  echo "=== $$t"; \
	  MW_BIN=$${MW_BIN:-$(abs_top_builddir)/mailwarden} MAILWARDEN=$${MAILWARDEN:-$(abs_top_builddir)/mailwarden} \
	    bash $(top_srcdir)/$$t; rc=$$?; \
	  case $$rc in 0) ;; 77) echo "SKIP $$t" ;; *) failed=1 ;; esac; \
	done; exit $$failed
