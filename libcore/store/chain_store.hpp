#pragma once
// The RocksDB chain store. Column families: blocks (hash -> block), headers
// (hash -> header; the height is in the header), main (big-endian height ->
// hash on the best chain), meta (schema, genesis, tip), peers, bans.
//
// Accepting a block, including a whole reorganisation, is one WriteBatch
// (accept_blocks: a run of blocks extending the tip, up to
// kMaxBlocksPerBatch, is one): after kill -9 at any moment the store
// reopens with tip == the last block fully applied. Not thread-safe: one owner calls it (the node's strand or a
// tool's main thread). This header includes no RocksDB headers.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "libcore/chain/block.hpp"
#include "libcore/chain/fork_choice.hpp"
#include "libcore/chain/genesis.hpp"
#include "libcore/chain/validation.hpp"

namespace core::store {

// A disk or database failure (I/O error, corruption). Not expected in normal
// operation: thrown, caught at the top of each binary.
struct StoreFailure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

inline constexpr std::uint32_t kSchemaVersion = 1;

enum class OpenMode {
  ReadWrite,  // exclusive: a second writer gets a clear error
  ReadOnly,   // inspection; works while another process has the store open for writing
};

struct OpenOptions {
  std::filesystem::path path;  // the store directory (<data_dir>/chain)
  OpenMode mode = OpenMode::ReadWrite;
  // Needed to create a new store; when given for an existing store, its hash
  // must match the store's genesis.
  std::optional<chain::GenesisSpec> genesis;
  bool create_if_missing = true;  // ReadWrite only
  bool sync_writes = false;       // fsync the WAL on every block (power-loss safety)
};

enum class AcceptStatus {
  Extended,      // became the new tip on top of the old one
  Reorganized,   // became the new tip on another branch (see reorg_depth)
  SideBranch,    // stored, but the current tip is still better
  ReorgTooDeep,  // stored, but switching would undo more than max_reorg_depth blocks
  AlreadyKnown,  // nothing to do
};
const char* to_string(AcceptStatus s);

struct AcceptResult {
  AcceptStatus status;
  chain::TipRef tip;              // the tip after the call
  std::uint64_t reorg_depth = 0;  // blocks taken off the old main chain
};

struct AcceptOptions {
  util::UnixMillis now_ms = 0;  // 0: the current time
  std::int64_t max_clock_drift_ms = 2000;
  std::uint64_t max_reorg_depth = 1000;
};

// accept_blocks: what happened to each block, in order, up to the first
// invalid one.
struct BatchResult {
  std::vector<AcceptResult> results;       // one per block accepted (any status)
  std::optional<chain::BlockError> error;  // blocks[results.size()] is invalid; the rest was not looked at
};

// Blocks per store batch in accept_blocks (and a byte bound with it).
inline constexpr std::size_t kMaxBlocksPerBatch = 256;
inline constexpr std::size_t kMaxBatchBytes = std::size_t{8} << 20;

// Raw access to the column families, for inspection tools and tests.
enum class Column { Blocks, Headers, Main, Meta, Peers, Bans };
const char* to_string(Column c);

class ChainStore {
 public:
  // Opens (or, ReadWrite with a genesis, creates) a store. Fails with a
  // message naming the path: missing store, locked by another process,
  // another genesis, another schema version.
  static util::Result<std::unique_ptr<ChainStore>> open(const OpenOptions& options);
  ~ChainStore();
  ChainStore(const ChainStore&) = delete;
  ChainStore& operator=(const ChainStore&) = delete;

  const std::filesystem::path& path() const;
  bool read_only() const;
  const chain::GenesisSpec& genesis() const;
  const crypto::Hash32& genesis_hash() const;
  const chain::Schedule& schedule() const;
  chain::TipRef tip() const;

  std::optional<chain::BlockHeader> header(const crypto::Hash32& hash) const;
  std::optional<chain::Block> block(const crypto::Hash32& hash) const;
  // Hash on the main chain at `height`, if the chain is that long.
  std::optional<crypto::Hash32> hash_at(std::uint64_t height) const;
  bool has_block(const crypto::Hash32& hash) const;

  // Validates `block` against its stored parent and the genesis schedule and
  // stores it; switches the main chain when fork choice says so. One atomic
  // batch. Invalid blocks are returned as BlockError and never stored.
  tl::expected<AcceptResult, chain::BlockError> accept_block(const chain::Block& block,
                                                             const AcceptOptions& options = {});

  // The same for many blocks in order, as if accept_block were called on
  // each, but a run of blocks that each extend the tip is written in one
  // batch (up to kMaxBlocksPerBatch), with the tip record naming its last
  // block: after kill -9 the store still reopens on a whole block.
  // `prechecked[i]` (when given) says chain::Precheck of blocks[i] passed:
  // its signature and body are not checked again, only the rules against
  // its parent (each signature is verified once). Stops at the first
  // invalid block; those before it are stored.
  BatchResult accept_blocks(std::span<const chain::Block> blocks, const AcceptOptions& options = {},
                            std::span<const char> prechecked = {});

  // The node's records outside the chain (Column::Peers, Column::Bans):
  // puts and erases in one batch. Other columns are refused (StoreFailure).
  void write_records(Column c, const std::vector<std::pair<std::string, std::string>>& puts,
                     const std::vector<std::string>& erases);

  // ReadOnly: reads what the writer has written since open (or the last call).
  void refresh();

  // Raw bytes of one record, or nullopt. Every (key, value) of a column in
  // key order; `fn` returns false to stop.
  std::optional<std::string> get_raw(Column c, std::string_view key) const;
  void for_each_raw(Column c, const std::function<bool(std::string_view, std::string_view)>& fn) const;
  // Writes one record as is, bypassing every rule. For tests that need a
  // damaged store and for repair; never used by the node.
  void put_raw(Column c, std::string_view key, std::string_view value);

  struct Impl;  // opaque: RocksDB lives only in chain_store.cpp

 private:
  explicit ChainStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Big-endian height key of the main column family.
std::string height_key(std::uint64_t height);
std::optional<std::uint64_t> parse_height_key(std::string_view key);

}  // namespace core::store
