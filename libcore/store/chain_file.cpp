#include "libcore/store/chain_file.hpp"

#include <unistd.h>
#include <cerrno>
#include <cstring>
#include <vector>

namespace core::store {

namespace {
constexpr char kMagic[8] = {'T', 'N', 'C', 'H', 'A', 'I', 'N', '1'};
constexpr std::uint32_t kEndMarker = 0xFFFFFFFF;

bool write_u32(std::FILE* f, std::uint32_t v) {
  std::uint8_t b[4];
  for (int i = 0; i < 4; ++i) b[i] = static_cast<std::uint8_t>(v >> (8 * i));
  return std::fwrite(b, 1, 4, f) == 4;
}

// Returns bytes read (0..4) into v.
std::size_t read_u32(std::FILE* f, std::uint32_t& v) {
  std::uint8_t b[4];
  std::size_t n = std::fread(b, 1, 4, f);
  v = 0;
  for (std::size_t i = 0; i < n; ++i) v |= static_cast<std::uint32_t>(b[i]) << (8 * i);
  return n;
}
}  // namespace

util::Result<ChainFileWriter> ChainFileWriter::create(const std::filesystem::path& path,
                                                      const chain::GenesisSpec& genesis) {
  ChainFileWriter w;
  w.path_ = path;
  w.partial_path_ = path.string() + ".partial";
  w.file_.reset(std::fopen(w.partial_path_.c_str(), "wb"));
  if (!w.file_) return util::fail(w.partial_path_.string() + ": cannot create: " + std::strerror(errno));
  auto spec = chain::encode(genesis);
  if (std::fwrite(kMagic, 1, sizeof kMagic, w.file_.get()) != sizeof kMagic ||
      !write_u32(w.file_.get(), static_cast<std::uint32_t>(spec.size())) ||
      std::fwrite(spec.data(), 1, spec.size(), w.file_.get()) != spec.size())
    return util::fail(path.string() + ": write failed: " + std::strerror(errno));
  return w;
}

util::Result<void> ChainFileWriter::append(const chain::Block& block) {
  auto bytes = chain::encode(block);
  if (!write_u32(file_.get(), static_cast<std::uint32_t>(bytes.size())) ||
      std::fwrite(bytes.data(), 1, bytes.size(), file_.get()) != bytes.size())
    return util::fail(path_.string() + ": write failed: " + std::strerror(errno));
  ++count_;
  return {};
}

util::Result<void> ChainFileWriter::finish() {
  std::uint8_t count[8];
  for (int i = 0; i < 8; ++i) count[i] = static_cast<std::uint8_t>(count_ >> (8 * i));
  if (!write_u32(file_.get(), kEndMarker) || std::fwrite(count, 1, 8, file_.get()) != 8 ||
      std::fflush(file_.get()) != 0)
    return util::fail(path_.string() + ": write failed: " + std::strerror(errno));
  if (::fsync(::fileno(file_.get())) != 0 || std::fclose(file_.release()) != 0)
    return util::fail(partial_path_.string() + ": close failed: " + std::strerror(errno));
  if (std::rename(partial_path_.c_str(), path_.c_str()) != 0)
    return util::fail(path_.string() + ": cannot move into place: " + std::strerror(errno));
  return {};
}

util::Result<void> ChainFileWriter::abandon() {
  if (!file_) return {};
  file_.reset();
  if (std::remove(partial_path_.c_str()) != 0 && errno != ENOENT)
    return util::fail(partial_path_.string() + ": cannot delete: " + std::strerror(errno));
  return {};
}

util::Result<ChainFileReader> ChainFileReader::open(const std::filesystem::path& path) {
  ChainFileReader r;
  r.path_ = path;
  r.file_.reset(std::fopen(path.c_str(), "rb"));
  if (!r.file_) return util::fail(path.string() + ": cannot open: " + std::strerror(errno));
  char magic[8];
  if (std::fread(magic, 1, 8, r.file_.get()) != 8 || std::memcmp(magic, kMagic, 8) != 0)
    return util::fail(path.string() + ": not a chain file (bad magic)");
  std::uint32_t len = 0;
  if (read_u32(r.file_.get(), len) != 4 || len > (64u << 20))
    return util::fail(path.string() + ": bad genesis record length");
  std::vector<std::uint8_t> spec(len);
  if (std::fread(spec.data(), 1, len, r.file_.get()) != len)
    return util::fail(path.string() + ": truncated genesis record");
  auto genesis = chain::decode_genesis(spec);
  if (!genesis) return util::fail(path.string() + ": " + genesis.error().message);
  r.genesis_ = *genesis;
  return r;
}

util::Result<std::optional<chain::Block>> ChainFileReader::next() {
  const std::string where = path_.string() + ": record " + std::to_string(index_ + 1);
  std::uint32_t len = 0;
  std::size_t n = read_u32(file_.get(), len);
  if (n == 0) return util::fail(where + ": file is truncated (no end marker)");
  if (n != 4) return util::fail(where + ": file is truncated inside a length");
  if (len == kEndMarker) {
    std::uint8_t b[8];
    if (std::fread(b, 1, 8, file_.get()) != 8) return util::fail(where + ": truncated end marker");
    std::uint64_t count = 0;
    for (int i = 0; i < 8; ++i) count |= static_cast<std::uint64_t>(b[i]) << (8 * i);
    if (count != index_)
      return util::fail(path_.string() + ": end marker counts " + std::to_string(count) + " blocks, file has " +
                        std::to_string(index_));
    return std::optional<chain::Block>();
  }
  if (len > kMaxChainFileBlock)
    return util::fail(where + ": block length " + std::to_string(len) + " exceeds the limit");
  std::vector<std::uint8_t> bytes(len);
  if (std::fread(bytes.data(), 1, len, file_.get()) != len)
    return util::fail(where + ": file is truncated inside a block");
  auto block = chain::decode_block(bytes);
  if (!block) return util::fail(where + ": " + block.error().message);
  ++index_;
  return std::optional<chain::Block>(std::move(*block));
}

}  // namespace core::store
