// GET and POST /files: downloads and uploads through files::open_for_download and files::upload_from, audited as transfers.
#include "envd.hpp"
#include "entry_info.hpp"
#include "file_call.hpp"
#include "multipart.hpp"

#include "sandpit/core/error.hpp"
#include "sandpit/files/ops.hpp"
#include "sandpit/session/admission.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <openssl/evp.h>
#include <set>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

namespace sandpit::serve {
namespace {

using Clock = std::chrono::steady_clock;

std::string content_type_of(const std::string& name) {
  static const std::pair<const char*, const char*> k_types[] = {
      {".txt", "text/plain; charset=utf-8"}, {".md", "text/markdown; charset=utf-8"}, {".csv", "text/csv; charset=utf-8"},
      {".json", "application/json"},         {".html", "text/html; charset=utf-8"},   {".py", "text/x-python; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"}, {".png", "image/png"},               {".jpg", "image/jpeg"},
      {".jpeg", "image/jpeg"},               {".gif", "image/gif"},                   {".svg", "image/svg+xml"},
      {".pdf", "application/pdf"},           {".zip", "application/zip"},             {".gz", "application/gzip"}};
  for (const auto& [ext, type] : k_types) {
    if (name.size() > std::strlen(ext) && name.compare(name.size() - std::strlen(ext), std::string::npos, ext) == 0) return type;
  }
  return "application/octet-stream";
}

// SHA-256 of what `fd` holds, read without moving its offset.
std::string sha256_of(int fd, std::uint64_t size) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  std::vector<char> buf(1 << 16);
  for (std::uint64_t off = 0; off < size;) {
    ssize_t n = ::pread(fd, buf.data(), buf.size(), static_cast<off_t>(off));
    if (n <= 0) break;
    EVP_DigestUpdate(ctx, buf.data(), static_cast<std::size_t>(n));
    off += static_cast<std::uint64_t>(n);
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx, digest, &len);
  EVP_MD_CTX_free(ctx);
  std::string hex;
  for (unsigned i = 0; i < len; ++i) hex += fmt::format("{:02x}", digest[i]);
  return hex;
}

sys::Fd temp_file(Service& service) {
  sys::Fd fd(::open(service.spool_dir().c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
  if (!fd.valid()) throw ApiError(500, fmt::format("cannot make a temporary file: {}", std::strerror(errno)));
  return fd;
}

// The body, gunzipped into a file of its own, at most `max` bytes.
sys::Fd gunzip(Service& service, int in, std::uint64_t max) {
  auto out = temp_file(service);
  z_stream z{};
  if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) throw ApiError(500, "cannot start gzip decompression");
  std::vector<unsigned char> src(1 << 16), dst(1 << 16);
  std::uint64_t total = 0;
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    ssize_t n = ::read(in, src.data(), src.size());
    if (n <= 0) break;
    z.next_in = src.data();
    z.avail_in = static_cast<uInt>(n);
    while (z.avail_in > 0 && rc != Z_STREAM_END) {
      z.next_out = dst.data();
      z.avail_out = static_cast<uInt>(dst.size());
      rc = inflate(&z, Z_NO_FLUSH);
      if (rc != Z_OK && rc != Z_STREAM_END) {
        inflateEnd(&z);
        throw ApiError(400, "error decompressing request body: not valid gzip");
      }
      const auto produced = dst.size() - z.avail_out;
      total += produced;
      if (total > max) {
        inflateEnd(&z);
        throw ApiError(400, fmt::format("error decompressing request body: larger than limits.transfer ({} bytes)", max));
      }
      if (!sys::write_all(out.get(), std::string_view(reinterpret_cast<char*>(dst.data()), produced))) {
        inflateEnd(&z);
        throw ApiError(507, "not enough disk space available");
      }
    }
  }
  inflateEnd(&z);
  if (rc != Z_STREAM_END) throw ApiError(400, "error decompressing request body: the gzip stream is cut short");
  ::lseek(out.get(), 0, SEEK_SET);
  return out;
}

files::HomePath resolve(const std::string& text) {
  try {
    return files::resolve_home_path(text, k_home);
  } catch (const files::FileError& e) {
    if (e.problem() == files::Problem::denied) throw ApiError(500, fmt::format("error opening file '{}': open {}: permission denied", e.subject(), e.subject()));
    throw ApiError(400, fmt::format("error expanding and resolving path '{}': {}", text, e.reason()));
  }
}

void download(Service& service, const std::shared_ptr<Sandbox>& sandbox, http::Request& req, http::Response& res) {
  check_user(req.param("username"), false);
  const auto where = resolve(req.param("path"));
  FileCall call(service, *sandbox, req, "download", {where.shown, "(E2B client)"});
  const auto roots = service.sandboxes().roots(*sandbox);
  files::Opened opened;
  try {
    opened = files::open_for_download(*roots, where.path);
  } catch (const files::FileError& e) {
    call.done(nullptr, &e);
    if (e.problem() == files::Problem::not_found) throw ApiError(404, fmt::format("path '{}' does not exist", where.shown));
    if (e.problem() == files::Problem::is_a_directory) throw ApiError(400, fmt::format("path '{}' is a directory", where.shown));
    if (e.problem() == files::Problem::refused) throw ApiError(400, fmt::format("path '{}': {}", where.shown, e.reason()));
    throw ApiError(500, fmt::format("error opening file '{}': {}", where.shown, e.reason()));
  }
  const auto max = service.config().limits.transfer;
  if (opened.size > max) {
    const auto why = fmt::format("path '{}' is larger than one transfer may copy (limits.transfer = {} bytes)", where.shown, max);
    call.refused("download " + where.shown, why);
    throw ApiError(400, why);
  }
  files::Report report;
  report.files.push_back({"", where.shown, opened.size, sha256_of(opened.fd.get(), opened.size)});
  call.done(&report, nullptr);
  const auto name = where.shown.substr(where.shown.rfind('/') + 1);
  std::string quoted;
  for (char c : name) quoted += (c == '"' || c == '\\') ? std::string("\\") + c : std::string(1, c);
  res.send_file(200,
                {{"Content-Type", content_type_of(name)}, {"Content-Disposition", fmt::format("inline; filename=\"{}\"", quoted)}, {"Vary", "Accept-Encoding"}},
                opened.fd.get(), opened.size);
}

// X-Metadata-<key>: <value> headers, checked as envd checks them.
std::map<std::string, std::string> metadata_of(const http::Request& req) {
  std::map<std::string, std::string> out;
  std::size_t total = 0;
  for (const auto& [name, value] : req.headers) {
    if (name.rfind("x-metadata-", 0) != 0) continue;
    const auto key = name.substr(11);
    if (key.empty() || out.contains(key)) continue;
    auto printable = [](const std::string& s) { return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c <= 0x7e; }); };
    if (key.size() > 246 || !printable(key) || !printable(value)) throw ApiError(400, fmt::format("invalid metadata: key '{}'", key));
    total += std::strlen(k_metadata_xattr) + key.size() + value.size();
    if (total > 4096) throw ApiError(400, "invalid metadata: more than 4096 bytes in all");
    out[key] = value;
  }
  return out;
}

struct Target {
  std::string asked;
  sys::Fd data;
};

// The files a POST /files carries: the raw body at ?path=, or each "file" part of a multipart body at its filename (or ?path=).
std::vector<Target> targets_of(Service& service, http::Request& req, int body) {
  const auto type = req.header("content-type");
  std::vector<Target> out;
  if (type.rfind("application/octet-stream", 0) == 0) {
    if (!req.has_param("path")) throw ApiError(400, "path query parameter is required for raw body upload");
    out.push_back({req.param("path"), sys::Fd(::dup(body))});
    return out;
  }
  auto boundary = multipart_boundary(type);
  if (!boundary) throw ApiError(400, fmt::format("unsupported content type: {}, expected multipart/form-data or application/octet-stream", type));
  struct stat st {};
  ::fstat(body, &st);
  const auto size = static_cast<std::size_t>(st.st_size);
  void* map = size > 0 ? ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, body, 0) : nullptr;
  if (size > 0 && map == MAP_FAILED) throw ApiError(500, fmt::format("cannot read the request body: {}", std::strerror(errno)));
  struct Unmap {
    void* p;
    std::size_t n;
    ~Unmap() {
      if (p != nullptr && p != MAP_FAILED) ::munmap(p, n);
    }
  } unmap{map, size};
  std::vector<Part> parts;
  try {
    parts = parse_multipart(std::string_view(static_cast<const char*>(map), size), *boundary);
  } catch (const MultipartError& e) {
    throw ApiError(400, fmt::format("error parsing multipart request: {}", e.what()));
  }
  for (const auto& part : parts) {
    if (part.name != "file") continue;
    auto data = temp_file(service);
    loff_t from = static_cast<loff_t>(part.offset);
    for (std::uint64_t left = part.size; left > 0;) {
      ssize_t n = ::copy_file_range(body, &from, data.get(), nullptr, left, 0);
      if (n <= 0) throw ApiError(507, "not enough disk space available");
      left -= static_cast<std::uint64_t>(n);
    }
    ::lseek(data.get(), 0, SEEK_SET);
    out.push_back({req.has_param("path") ? req.param("path") : part.filename, std::move(data)});
  }
  return out;
}

void upload(Service& service, const std::shared_ptr<Sandbox>& sandbox, http::Request& req, http::Response& res) {
  check_user(req.param("username"), false);
  const auto max = service.config().limits.transfer;
  if (!req.body_file.valid()) {
    req.body_file = temp_file(service);
    if (!sys::write_all(req.body_file.get(), req.body)) throw ApiError(507, "not enough disk space available");
    ::lseek(req.body_file.get(), 0, SEEK_SET);
  }
  sys::Fd body = std::move(req.body_file);
  const auto encoding = req.header("content-encoding");
  if (encoding == "gzip") body = gunzip(service, body.get(), max);
  else if (!encoding.empty() && encoding != "identity") throw ApiError(400, fmt::format("error decompressing request body: unsupported Content-Encoding: {}", encoding));
  const auto metadata = metadata_of(req);
  auto targets = targets_of(service, req, body.get());
  std::set<std::string> seen;
  std::vector<files::HomePath> paths;
  for (const auto& t : targets) {
    paths.push_back(resolve(t.asked));
    if (!seen.insert(paths.back().shown).second) {
      throw ApiError(400, fmt::format("you cannot upload multiple files to the same path '{}' in one upload request", paths.back().shown));
    }
  }
  const session::TransferAsked asked{"(E2B client)", paths.size() == 1 ? paths[0].shown : fmt::format("{} files", paths.size())};
  FileCall call(service, *sandbox, req, "upload", asked);
  const auto roots = service.sandboxes().roots(*sandbox);
  files::Transfer options;
  options.max_bytes = max;
  files::Report report;
  json written = json::array();
  for (std::size_t i = 0; i < targets.size(); ++i) {
    try {
      auto copied = files::upload_from(targets[i].data.get(), "(E2B client)", *roots, paths[i].path, options);
      copied.sandbox = paths[i].shown;
      report.files.push_back(copied);
      if (!metadata.empty()) files::write_metadata(*roots, paths[i].path, k_metadata_xattr, metadata);
    } catch (const files::FileError& e) {
      call.done(&report, &e);
      if (e.problem() == files::Problem::no_space) throw ApiError(507, fmt::format("attempted to write to {}: not enough disk space available", paths[i].shown));
      if (e.problem() == files::Problem::is_a_directory) throw ApiError(400, fmt::format("path is a directory: {}", paths[i].shown));
      if (e.problem() == files::Problem::too_large) throw ApiError(400, fmt::format("{}: {}", paths[i].shown, e.reason()));
      throw ApiError(500, fmt::format("error writing file '{}': {}", paths[i].shown, e.reason()));
    }
    json entry = {{"name", paths[i].shown.substr(paths[i].shown.rfind('/') + 1)}, {"path", paths[i].shown}, {"type", "file"}};
    if (!metadata.empty()) entry["metadata"] = metadata;
    written.push_back(entry);
  }
  call.done(&report, nullptr);
  send_json(res, 200, written);
}

} // namespace

void files_endpoint(Service& service, const std::shared_ptr<Sandbox>& sandbox, http::Request& req, http::Response& res) {
  if (req.method == "GET") return download(service, sandbox, req, res);
  if (req.method == "POST") return upload(service, sandbox, req, res);
  send_error(res, 405, fmt::format("method {} is not allowed on /files", req.method));
}

} // namespace sandpit::serve
