// `sandpit serve`: an E2B-compatible HTTP server, so that apps written for E2B's SDKs run their sandboxes here.
#include "commands.hpp"

#include "sandpit/serve/serve.hpp"

#include "sandpit/util/fault.hpp"

#include <CLI/CLI.hpp>

namespace sandpit::cli {
namespace {

class ServeCommand final : public Command {
public:
  std::string_view name() const override { return "serve"; }
  std::string_view summary() const override { return "Serve E2B's API over HTTP, so apps written for E2B run here (prints the env to set)"; }
  bool in_repl() const override { return false; }

  void add_to(CLI::App& app) override {
    app.add_option("--listen", m_listen, "Address to listen on, HOST:PORT (port 0 picks a free one)")->type_name("HOST:PORT");
  }

  ExitCode run(Context& context) override {
    fault::set_role(fault::Role::serve);
    serve::ServeOptions options;
    options.listen = m_listen;
    options.config_file = context.config_file;
    return static_cast<ExitCode>(serve::run_serve(context.config(), options));
  }

private:
  std::string m_listen = "127.0.0.1:49982";
};

} // namespace

std::unique_ptr<Command> make_serve_command() { return std::make_unique<ServeCommand>(); }

} // namespace sandpit::cli
