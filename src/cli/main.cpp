// mailwarden — inbound mail filter. main() only dispatches; see cli/commands.h.
#include <cstdio>
#include <exception>
#include <new>
#include <string>
#include <vector>

#include "commands.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    mw::cli::printUsage(true);
    return 1;
  }
  const std::string command = args.front();
  args.erase(args.begin());
  try {
    if (command == "check") {
      return mw::cli::runCheck(args);
    }
    if (command == "configtest") {
      return mw::cli::runConfigtest(args);
    }
    if (command == "rules") {
      return mw::cli::runRules(args);
    }
    if (command == "lists") {
      return mw::cli::runLists(args);
    }
    if (command == "dmarc-report") {
      return mw::cli::runDmarcReport(args);
    }
    if (command == "run") {
      return mw::cli::runMilter(args);
    }
    if (command == "-h" || command == "--help" || command == "help") {
      mw::cli::printUsage(false);
      return 0;
    }
    std::fprintf(stderr, "mailwarden: unknown command '%s'\n", command.c_str());
    mw::cli::printUsage(true);
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "mailwarden: out of memory\n");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mailwarden: internal error: %s\n", e.what());
  }
  return 1;
}
