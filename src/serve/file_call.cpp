#include "file_call.hpp"

namespace sandpit::serve {

FileCall::FileCall(Service& service, const Sandbox& sandbox, const http::Request& req, std::string operation, session::TransferAsked asked)
    : m_service(service), m_sandbox(sandbox), m_caller(service.caller(sandbox, req)), m_operation(std::move(operation)),
      m_asked(std::move(asked)), m_started(std::chrono::steady_clock::now()) {
  auto intent = session::transfer_record(m_caller, sandbox.workspace, m_asked, nullptr, nullptr, 0);
  intent.success = false;
  intent.extra["operation"] = m_operation;
  m_action = std::make_unique<session::AuditedAction>(service.config(), sandbox.workspace, std::move(intent));
}

FileCall::~FileCall() {
  if (!m_action->completed()) refused("serve", "the call ended without an outcome");
}

void FileCall::done(const files::Report* report, const Error* error) {
  if (m_action->completed()) return;
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - m_started).count();
  auto outcome = session::transfer_record(m_caller, m_sandbox.workspace, m_asked, report, error, ms);
  outcome.extra["operation"] = m_operation;
  (void)m_action->complete(std::move(outcome));
}

void FileCall::refused(const std::string& what, const std::string& why) {
  const Error error(ExitCode::usage, what, why);
  done(nullptr, &error);
}

} // namespace sandpit::serve
