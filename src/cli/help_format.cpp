#include "help_format.hpp"

#include "sandpit/util/strings.hpp"

#include <sstream>

namespace sandpit::cli {
namespace {

class WrappingFormatter final : public CLI::Formatter {
public:
  explicit WrappingFormatter(std::size_t width) : m_width(width) {}

  std::string make_option(const CLI::Option* opt, bool is_positional) const override {
    return entry(make_option_name(opt, is_positional) + make_option_opts(opt), make_option_desc(opt));
  }
  std::string make_subcommand(const CLI::App* sub) const override { return entry(sub->get_display_name(true), sub->get_description()); }
  std::string make_description(const CLI::App* app) const override {
    std::istringstream in(CLI::Formatter::make_description(app));
    std::string out;
    for (std::string line; std::getline(in, line);) {
      for (const auto& wrapped : strings::wrap_words(line, m_width)) out += wrapped + "\n";
    }
    return out;
  }

private:
  // As CLI11's detail::format_help: "  name" padded to the column, then the description;
  // a name wider than the terminal breaks at its spaces.
  std::string entry(const std::string& name, const std::string& description) const {
    const std::size_t column = m_width >= 60 ? get_column_width() : 6;
    std::string out, last;
    for (const auto& line : strings::wrap_words(name, m_width > 2 ? m_width - 2 : 1)) {
      if (!last.empty()) out += last + "\n";
      last = "  " + line;
    }
    out += last;
    if (description.empty()) return out + "\n";
    if (strings::columns(last) >= column) out += "\n" + std::string(column, ' ');
    else out.append(column - strings::columns(last), ' ');
    bool first = true;
    for (const auto& line : strings::wrap_words(description, m_width > column + 20 ? m_width - column : 20)) {
      out += (first ? "" : std::string(column, ' ')) + line + "\n";
      first = false;
    }
    return out;
  }

  std::size_t m_width;
};

} // namespace

std::shared_ptr<CLI::Formatter> wrapping_formatter(std::size_t width) { return std::make_shared<WrappingFormatter>(width); }

} // namespace sandpit::cli
