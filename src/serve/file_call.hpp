// FileCall: one of serve's file calls (upload, download, mkdir, move, remove) recorded intent-first in the audit log.
#pragma once

#include "service.hpp"

#include "sandpit/session/audit_trail.hpp"

#include <chrono>
#include <memory>
#include <string>

namespace sandpit::serve {

class FileCall {
public:
  // Appends the call's intent (command "serve", extra "operation", "from", "to")
  // before it touches the sandbox. Throws Error when the log cannot take it: the
  // call then does nothing, and its client gets the error.
  FileCall(Service& service, const Sandbox& sandbox, const http::Request& req, std::string operation, session::TransferAsked asked);
  // Not done: the outcome says the call ended without one.
  ~FileCall();
  FileCall(const FileCall&) = delete;
  FileCall& operator=(const FileCall&) = delete;

  // The outcome: the files copied (for uploads and downloads), or the error.
  void done(const files::Report* report, const Error* error);
  // A call refused by serve itself, after its intent: `why` is the outcome's error.
  void refused(const std::string& what, const std::string& why);

private:
  Service& m_service;
  const Sandbox& m_sandbox;
  session::Caller m_caller;
  std::string m_operation;
  session::TransferAsked m_asked;
  std::chrono::steady_clock::time_point m_started;
  std::unique_ptr<session::AuditedAction> m_action;
};

} // namespace sandpit::serve
