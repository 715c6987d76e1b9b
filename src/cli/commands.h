// cli/commands.h — the subcommands of DESIGN.md's command-line contract. Each takes
// its arguments (after the subcommand word) and returns the process exit status:
// 0 when the job was done (for check: a verdict was reached, whatever it is),
// 1 for bad input to the command itself, 2 for a bad configuration.
// Private to cli/. Output goes to stdout, diagnostics to stderr.
#pragma once

#include <string>
#include <vector>

namespace mw::cli {

int runCheck(const std::vector<std::string>& args);
int runConfigtest(const std::vector<std::string>& args);
int runMilter(const std::vector<std::string>& args);
// `rules test [-c FILE | DIR...]`: runs every rule's test cases; 0 all passed, 1 a case
// failed, 2 the rules (or the configuration) do not load.
int runRules(const std::vector<std::string>& args);
// `lists test [-c FILE] [--dns-zone FILE]...`: RFC 5782 §5 test points of every DNS list
// (src/cli/lists_command.cpp); 0 all pass, 1 one does not, 2 the configuration does not load.
int runLists(const std::vector<std::string>& args);
// `dmarc-report [-c FILE] [--period YYYY-MM-DD] [--out DIR | --dry-run] [--dns-zone FILE]...
// [--now UNIX_TIME] [--keep-days N] [--sendmail PATH]`: the RFC 9990 aggregate reports
// (src/cli/report_command.cpp); 0 all done, 75 something left for a later run, 1 bad
// command line, configuration or store.
int runDmarcReport(const std::vector<std::string>& args);
void printUsage(bool to_stderr);
// A whole decimal integer (strtoll, nothing after it, no overflow) for numeric options.
bool parseInt64(const std::string& text, std::int64_t& out);

}  // namespace mw::cli
