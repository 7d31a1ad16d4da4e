#include "images.hpp"

#include "sandpit/files/base64.hpp"
#include "sandpit/sys/fd.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

namespace sandpit::session {
namespace {

std::string_view extension(const std::string& format) {
  if (format == "png") return "png";
  if (format == "jpeg" || format == "jpg") return "jpg";
  if (format == "svg") return "svg";
  return "bin";
}

} // namespace

void save_images(ExecResult& result, const std::filesystem::path& dir) {
  if (result.images.empty()) return;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  int index = 0;
  for (auto& image : result.images) {
    ++index;
    auto bytes = files::decode_base64(image.value("base64", ""));
    if (!bytes) continue;
    auto name = fmt::format("{}-{}-{}.{}", result.session, result.execution_count, index, extension(image.value("format", "")));
    auto path = dir / name;
    sys::Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644));
    if (!fd.valid() || !sys::write_all(fd.get(), *bytes)) continue;
    image["path"] = path.string();
  }
}

} // namespace sandpit::session
