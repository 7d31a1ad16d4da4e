#include "sandpit/repl/line_editor.hpp"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <histedit.h>
#include <unistd.h>

namespace sandpit::repl {
namespace {

// Set by the SIGINT handler while a line is read. A signal handler can reach
// nothing else, so this one flag is global state.
volatile std::sig_atomic_t g_interrupted = 0;

extern "C" void note_interrupt(int) { g_interrupted = 1; }

// SIGINT without SA_RESTART while reading: read() fails with EINTR, the line is given up.
class InterruptScope {
public:
  InterruptScope() {
    g_interrupted = 0;
    struct sigaction sa {};
    sa.sa_handler = note_interrupt;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGINT, &sa, &m_old);
  }
  ~InterruptScope() { ::sigaction(SIGINT, &m_old, nullptr); }
  InterruptScope(const InterruptScope&) = delete;
  InterruptScope& operator=(const InterruptScope&) = delete;

private:
  struct sigaction m_old {};
};

class TerminalEditor final : public LineEditor {
public:
  TerminalEditor(std::filesystem::path history_file, Completer completer)
      : m_history_file(std::move(history_file)), m_completer(std::move(completer)) {
    m_history = ::history_init();
    ::history(m_history, &m_event, H_SETSIZE, 1000);
    ::history(m_history, &m_event, H_SETUNIQUE, 1);
    if (!m_history_file.empty()) ::history(m_history, &m_event, H_LOAD, m_history_file.c_str());
    m_el = ::el_init("sandpit", stdin, stdout, stderr);
    ::el_set(m_el, EL_CLIENTDATA, this);
    ::el_set(m_el, EL_EDITOR, "emacs");
    ::el_set(m_el, EL_PROMPT, &TerminalEditor::prompt_of);
    ::el_set(m_el, EL_HIST, ::history, m_history);
    ::el_set(m_el, EL_GETCFN, &TerminalEditor::read_char);
    ::el_set(m_el, EL_ADDFN, "sandpit-complete", "Complete a command, option or path", &TerminalEditor::on_tab);
    ::el_set(m_el, EL_BIND, "^I", "sandpit-complete", nullptr);
    ::el_source(m_el, nullptr); // ~/.editrc, as other libedit programs read it
  }
  ~TerminalEditor() override {
    ::el_end(m_el);
    ::history_end(m_history);
  }
  TerminalEditor(const TerminalEditor&) = delete;
  TerminalEditor& operator=(const TerminalEditor&) = delete;

  Line read_line(const std::string& prompt) override {
    m_prompt = prompt;
    InterruptScope scope;
    ::el_resize(m_el); // no SIGWINCH handler of libedit's: take the size now
    int count = 0;
    const char* text = ::el_gets(m_el, &count);
    if (g_interrupted != 0) {
      std::fputs("^C\n", stdout);
      std::fflush(stdout);
      return {Line::Status::interrupted, ""};
    }
    if (text == nullptr || count <= 0) return {Line::Status::eof, ""};
    std::string line(text, static_cast<std::size_t>(count));
    if (!line.empty() && line.back() == '\n') line.pop_back();
    return {Line::Status::line, std::move(line)};
  }

  void remember(const std::string& line) override {
    ::history(m_history, &m_event, H_ENTER, line.c_str());
    if (!m_history_file.empty()) ::history(m_history, &m_event, H_SAVE, m_history_file.c_str());
  }

private:
  static TerminalEditor& self(EditLine* el) {
    void* data = nullptr;
    ::el_get(el, EL_CLIENTDATA, &data);
    return *static_cast<TerminalEditor*>(data);
  }

  static char* prompt_of(EditLine* el) { return self(el).m_prompt.data(); }

  // One character from stdin, UTF-8 decoded here: a Ctrl-C (EINTR with the
  // flag set) ends the line, where libedit's own reader would retry.
  static int read_char(EditLine*, wchar_t* out) {
    unsigned char bytes[4];
    std::size_t have = 0, need = 1;
    while (have < need) {
      ssize_t n = ::read(STDIN_FILENO, bytes + have, 1);
      if (n < 0 && errno == EINTR && g_interrupted == 0) continue;
      if (n < 0) return -1;
      if (n == 0) return 0;
      if (have == 0) need = bytes[0] < 0x80 ? 1 : bytes[0] >= 0xf0 ? 4 : bytes[0] >= 0xe0 ? 3 : 2;
      ++have;
    }
    static constexpr unsigned char k_lead_mask[] = {0x7f, 0x1f, 0x0f, 0x07};
    wchar_t c = bytes[0] & k_lead_mask[need - 1];
    for (std::size_t i = 1; i < need; ++i) c = static_cast<wchar_t>((c << 6) | (bytes[i] & 0x3f));
    *out = c;
    return 1;
  }

  static unsigned char on_tab(EditLine* el, int) {
    auto& editor = self(el);
    const LineInfo* info = ::el_line(el);
    auto completion = editor.m_completer(std::string_view(info->buffer, static_cast<std::size_t>(info->cursor - info->buffer)));
    if (!completion.insert.empty()) {
      ::el_insertstr(el, completion.insert.c_str());
      return CC_REFRESH;
    }
    if (completion.choices.empty()) return CC_REFRESH_BEEP;
    std::string list = "\n";
    for (const auto& choice : completion.choices) list += choice + "  ";
    list += "\n";
    std::fputs(list.c_str(), stdout);
    return CC_REDISPLAY;
  }

  std::filesystem::path m_history_file;
  Completer m_completer;
  EditLine* m_el = nullptr;
  History* m_history = nullptr;
  HistEvent m_event{};
  std::string m_prompt;
};

class PlainReader final : public LineEditor {
public:
  explicit PlainReader(int fd) : m_fd(fd) {}

  Line read_line(const std::string&) override {
    while (true) {
      if (auto newline = m_buffer.find('\n'); newline != std::string::npos) {
        Line line{Line::Status::line, m_buffer.substr(0, newline)};
        m_buffer.erase(0, newline + 1);
        return line;
      }
      if (m_eof) break;
      char chunk[65536];
      ssize_t n = ::read(m_fd, chunk, sizeof chunk);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) m_eof = true;
      else m_buffer.append(chunk, static_cast<std::size_t>(n));
    }
    if (m_buffer.empty()) return {Line::Status::eof, ""};
    Line last{Line::Status::line, std::move(m_buffer)}; // a last line without its newline
    m_buffer.clear();
    return last;
  }

  void remember(const std::string&) override {}

private:
  int m_fd;
  std::string m_buffer;
  bool m_eof = false;
};

} // namespace

std::unique_ptr<LineEditor> make_terminal_editor(const std::filesystem::path& history_file, Completer completer) {
  return std::make_unique<TerminalEditor>(history_file, std::move(completer));
}

std::unique_ptr<LineEditor> make_plain_reader(int fd) { return std::make_unique<PlainReader>(fd); }

} // namespace sandpit::repl
