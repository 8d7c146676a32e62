#pragma once
// Chain files (tchain export / import): a self-contained copy of a chain.
//   "TNCHAIN1" | u32 len | genesis spec (canonical encoding)
//   { u32 len | block }*                        blocks in height order
//   u32 0xFFFFFFFF | u64 block count            end marker
// A file without its end marker is reported as truncated; the blocks before
// the cut are still readable.

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>

#include "libcore/chain/block.hpp"
#include "libcore/chain/genesis.hpp"

namespace core::store {

inline constexpr std::size_t kMaxChainFileBlock = 16u << 20;

struct FileCloser {
  void operator()(std::FILE* f) const {
    if (f) std::fclose(f);
  }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;

class ChainFileWriter {
 public:
  // Writes to "<path>.partial"; finish() renames it to `path`, so `path` only
  // ever holds a complete chain file. A writer destroyed before finish()
  // (an error, an interrupted export) deletes its .partial file.
  static util::Result<ChainFileWriter> create(const std::filesystem::path& path, const chain::GenesisSpec& genesis);
  ChainFileWriter(ChainFileWriter&&) = default;
  ChainFileWriter& operator=(ChainFileWriter&&) = default;
  ~ChainFileWriter() { abandon(); }
  util::Result<void> append(const chain::Block& block);
  // Writes the end marker, syncs, closes and renames the file into place.
  util::Result<void> finish();
  // Closes and deletes the .partial file (nothing once finished); an error
  // names the file that could not be deleted.
  util::Result<void> abandon();
  const std::filesystem::path& partial_path() const { return partial_path_; }

 private:
  ChainFileWriter() = default;
  FilePtr file_;
  std::filesystem::path path_;
  std::filesystem::path partial_path_;
  std::uint64_t count_ = 0;
};

class ChainFileReader {
 public:
  static util::Result<ChainFileReader> open(const std::filesystem::path& path);
  const chain::GenesisSpec& genesis() const { return genesis_; }
  // The next block, nullopt at a clean end, or an error naming the record.
  util::Result<std::optional<chain::Block>> next();

 private:
  FilePtr file_;
  std::filesystem::path path_;
  chain::GenesisSpec genesis_;
  std::uint64_t index_ = 0;
};

}  // namespace core::store
