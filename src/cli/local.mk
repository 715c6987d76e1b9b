noinst_LIBRARIES += libmw_cli.a
libmw_cli_a_SOURCES = src/cli/commands.cpp src/cli/lists_command.cpp src/cli/report_command.cpp \
	src/cli/commands.h

sbin_PROGRAMS += mailwarden
mailwarden_SOURCES = src/cli/main.cpp
# Top-down: an upward reference between modules fails to link.
mailwarden_LDADD = libmw_cli.a libmw_milter.a libmw_metrics.a libmw_report_job.a $(MW_CORE_LIBS) $(MILTER_LIBS) -lpthread \
	$(MHD_LIBS) $(CRYPTO_LIBS) \
	$(YAML_LIBS) $(FMT_LIBS) $(SPF2_LIBS) $(OPENDKIM_LIBS) $(LDNS_LIBS) $(IDN2_LIBS) $(UNBOUND_LIBS) $(HS_LIBS) \
	$(SQLITE3_LIBS) $(HIREDIS_LIBS) $(XML2_LIBS) $(ZLIB_LIBS)
