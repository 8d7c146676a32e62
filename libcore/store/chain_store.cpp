#include "libcore/store/chain_store.hpp"

#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <unistd.h>
#include <cstdlib>
#include <vector>

#include "libcore/util/time.hpp"

namespace core::store {

namespace {

namespace fs = std::filesystem;

constexpr const char* kColumnNames[] = {"blocks", "headers", "main", "meta", "peers", "bans"};
constexpr std::size_t kWriteBufferBytes = std::size_t{8} << 20;

constexpr std::string_view kMetaSchema = "schema";
constexpr std::string_view kMetaGenesisHash = "genesis_hash";
constexpr std::string_view kMetaGenesisSpec = "genesis_spec";
constexpr std::string_view kMetaTip = "tip";

rocksdb::Slice slice(std::string_view s) { return {s.data(), s.size()}; }
rocksdb::Slice slice(std::span<const std::uint8_t> s) { return {reinterpret_cast<const char*>(s.data()), s.size()}; }
std::string_view view(const crypto::Hash32& h) { return {reinterpret_cast<const char*>(h.data()), h.kSize}; }
std::span<const std::uint8_t> bytes_of(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

void check(const rocksdb::Status& s, const std::string& what) {
  if (!s.ok()) throw StoreFailure("chain store: " + what + ": " + s.ToString());
}

std::string encode_u32(std::uint32_t v) {
  std::string out(4, '\0');
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>(v >> (8 * i));
  return out;
}

}  // namespace

const char* to_string(AcceptStatus s) {
  switch (s) {
    case AcceptStatus::Extended:
      return "extended";
    case AcceptStatus::Reorganized:
      return "reorganized";
    case AcceptStatus::SideBranch:
      return "side_branch";
    case AcceptStatus::ReorgTooDeep:
      return "reorg_too_deep";
    case AcceptStatus::AlreadyKnown:
      return "already_known";
  }
  return "unknown";
}

const char* to_string(Column c) { return kColumnNames[static_cast<std::size_t>(c)]; }

std::string height_key(std::uint64_t height) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[7 - i] = static_cast<char>(height >> (8 * i));
  return out;
}

std::optional<std::uint64_t> parse_height_key(std::string_view key) {
  if (key.size() != 8) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : key) v = v << 8 | static_cast<std::uint8_t>(c);
  return v;
}

struct ChainStore::Impl {
  fs::path path;
  fs::path secondary_path;  // ReadOnly: RocksDB secondary's own directory
  bool read_only = false;
  bool sync_writes = false;
  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> columns;
  chain::GenesisSpec genesis;
  crypto::Hash32 genesis_hash;
  std::optional<chain::Schedule> schedule;
  chain::TipRef tip;
  std::optional<chain::BlockHeader> tip_header;  // the tip's header, for blocks that extend it

  ~Impl() {
    for (auto* h : columns)
      if (db && h) db->DestroyColumnFamilyHandle(h);
    columns.clear();
    if (db) db->Close();
    db.reset();
    if (!secondary_path.empty()) {
      std::error_code ec;
      fs::remove_all(secondary_path, ec);
    }
  }

  rocksdb::ColumnFamilyHandle* cf(Column c) const { return columns[static_cast<std::size_t>(c)]; }

  std::optional<std::string> get(Column c, std::string_view key) const {
    std::string value;
    auto s = db->Get(rocksdb::ReadOptions(), cf(c), slice(key), &value);
    if (s.IsNotFound()) return std::nullopt;
    check(s, std::string("read ") + to_string(c));
    return value;
  }

  void write(rocksdb::WriteBatch& batch) {
    rocksdb::WriteOptions wo;
    wo.sync = sync_writes;
    check(db->Write(wo, &batch), "write batch");
  }

  std::optional<chain::BlockHeader> header(const crypto::Hash32& hash) const {
    auto raw = get(Column::Headers, view(hash));
    if (!raw) return std::nullopt;
    auto h = chain::decode_header(bytes_of(*raw));
    if (!h) throw StoreFailure("chain store: header " + hash.hex() + " is corrupt: " + h.error().message);
    return *h;
  }

  void load_tip() {
    auto raw = get(Column::Meta, kMetaTip);
    if (!raw || raw->size() != 32) throw StoreFailure("chain store: tip record missing or corrupt");
    auto hash = crypto::Hash32::from_span(bytes_of(*raw));
    auto h = header(hash);
    if (!h) throw StoreFailure("chain store: tip " + hash.hex() + " has no header");
    tip = {h->height, hash};
    tip_header = *h;
  }

  // The main-chain hash at `height` (which is at most the tip's).
  std::optional<crypto::Hash32> hash_at(std::uint64_t height) const {
    if (height > tip.height) return std::nullopt;
    auto raw = get(Column::Main, height_key(height));
    if (!raw) return std::nullopt;
    if (raw->size() != 32) throw StoreFailure("chain store: main index at " + std::to_string(height) + " is corrupt");
    return crypto::Hash32::from_span(bytes_of(*raw));
  }

  // accept_blocks for one block that does not simply extend the tip: a
  // side branch, a reorganisation, or an unknown parent. One batch.
  tl::expected<AcceptResult, chain::BlockError> accept_one(const chain::Block& block, const crypto::Hash32& hash,
                                                           bool checked, const chain::ValidationContext& ctx,
                                                           const AcceptOptions& options);
};

ChainStore::ChainStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ChainStore::~ChainStore() = default;

namespace {

// Opens the RocksDB database at `path` with all column families. `create`:
// create it (and its families) when missing.
util::Result<std::unique_ptr<ChainStore::Impl>> open_db(const fs::path& path, bool read_only, bool create,
                                                        bool sync_writes) {
  auto impl = std::make_unique<ChainStore::Impl>();
  impl->path = path;
  impl->read_only = read_only;
  impl->sync_writes = sync_writes;
  const std::string where = path.string();

  rocksdb::DBOptions db_options;
  db_options.create_if_missing = create;
  db_options.create_missing_column_families = create;
  db_options.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  db_options.keep_log_file_num = 2;
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  descriptors.emplace_back(rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions());
  // Memtables of 8 MiB (RocksDB's default is 64 MiB each): a node syncing
  // 100,000 blocks would otherwise hold the whole chain in memory until the
  // first flush. Flushes run on RocksDB's background thread.
  rocksdb::ColumnFamilyOptions family;
  family.write_buffer_size = kWriteBufferBytes;
  for (const char* name : kColumnNames) descriptors.emplace_back(name, family);
  // Blocks and headers are looked up by hash, mostly for hashes we do not
  // have yet (has_block for every header and block a peer sends): bloom
  // filters answer those misses without searching the memtable or the files.
  rocksdb::BlockBasedTableOptions table;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  for (auto c : {Column::Blocks, Column::Headers}) {
    auto& o = descriptors[1 + static_cast<std::size_t>(c)].options;
    o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
    o.memtable_prefix_bloom_size_ratio = 0.05;
    o.memtable_whole_key_filtering = true;
  }

  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw_db = nullptr;
  rocksdb::Status s;
  if (read_only) {
    // A secondary instance follows a running writer safely (a plain
    // read-only open can see files vanish under compaction).
    char tmpl[] = "/tmp/tchain-secondary-XXXXXX";
    if (!::mkdtemp(tmpl)) return util::fail("cannot create a temporary directory for reading " + where);
    impl->secondary_path = tmpl;
    db_options.max_open_files = -1;
    s = rocksdb::DB::OpenAsSecondary(db_options, where, impl->secondary_path.string(), descriptors, &handles, &raw_db);
  } else {
    s = rocksdb::DB::Open(db_options, where, descriptors, &handles, &raw_db);
  }
  if (!s.ok()) {
    std::string text = s.ToString();
    if (text.find("lock") != std::string::npos || text.find("LOCK") != std::string::npos)
      return util::fail("chain store " + where +
                        " is in use by another process (a running tnode, or tchain import?); "
                        "stop it first, or use a read-only command");
    if (text.find("Invalid column family") != std::string::npos ||
        text.find("Column families not opened") != std::string::npos ||
        text.find("Column family not found") != std::string::npos)
      return util::fail(where + " is not a tnode chain store (" + text + ")");
    return util::fail("cannot open chain store " + where + ": " + text);
  }
  impl->db.reset(raw_db);
  // handles[0] is the default family; keep ours in Column order.
  impl->db->DestroyColumnFamilyHandle(handles[0]);
  impl->columns.assign(handles.begin() + 1, handles.end());
  return impl;
}

// Writes genesis block, main[0], tip and schema in one batch.
void initialise(ChainStore::Impl& impl, const chain::GenesisSpec& spec) {
  auto gblock = chain::genesis_block(spec);
  auto ghash = gblock.hash();
  rocksdb::WriteBatch batch;
  batch.Put(impl.cf(Column::Blocks), slice(view(ghash)), slice(chain::encode(gblock)));
  batch.Put(impl.cf(Column::Headers), slice(view(ghash)), slice(chain::encode(gblock.header)));
  batch.Put(impl.cf(Column::Main), slice(height_key(0)), slice(view(ghash)));
  batch.Put(impl.cf(Column::Meta), slice(kMetaGenesisSpec), slice(chain::encode(spec)));
  batch.Put(impl.cf(Column::Meta), slice(kMetaGenesisHash), slice(view(ghash)));
  batch.Put(impl.cf(Column::Meta), slice(kMetaTip), slice(view(ghash)));
  batch.Put(impl.cf(Column::Meta), slice(kMetaSchema), slice(encode_u32(kSchemaVersion)));
  rocksdb::WriteOptions wo;
  wo.sync = true;
  check(impl.db->Write(wo, &batch), "initialise");
}

// Creates a complete store at `path` or nothing: it is built in a sibling
// temporary directory and renamed into place, so a kill at any moment leaves
// either no store or an initialised one (never a half-made database).
util::Result<void> create_store(const fs::path& path, const chain::GenesisSpec& spec) {
  const std::string where = path.string();
  std::error_code ec;
  if (fs::exists(path, ec) && !fs::is_empty(path, ec))
    return util::fail(where + " exists and is not a chain store (no CURRENT file); refusing to touch it");
  fs::create_directories(path.parent_path(), ec);
  if (ec) return util::fail("cannot create " + path.parent_path().string() + ": " + ec.message());
  const fs::path tmp = path.parent_path() / ("." + path.filename().string() + ".creating");
  fs::remove_all(tmp, ec);
  {
    auto created = open_db(tmp, false, true, true);
    if (!created) return tl::unexpected(created.error());
    try {
      initialise(**created, spec);
    } catch (const StoreFailure& e) {
      return util::fail(e.what());
    }
  }                           // closed here
  fs::rename(tmp, path, ec);  // replaces an empty directory at `path`
  if (ec) return util::fail("cannot move the new store into " + where + ": " + ec.message());
  return {};
}

}  // namespace

util::Result<std::unique_ptr<ChainStore>> ChainStore::open(const OpenOptions& options) {
  fs::path path = options.path.lexically_normal();
  if (path.filename().empty()) path = path.parent_path();
  const std::string where = path.string();
  const bool read_only = options.mode == OpenMode::ReadOnly;

  std::error_code ec;
  if (!fs::exists(path / "CURRENT", ec)) {
    if (read_only || !options.create_if_missing) return util::fail("no chain store at " + where);
    if (!options.genesis) return util::fail("no chain store at " + where + " and no genesis to create one from");
    if (auto created = create_store(path, *options.genesis); !created) return tl::unexpected(created.error());
  }
  auto opened = open_db(path, read_only, false, options.sync_writes);
  if (!opened) return tl::unexpected(opened.error());
  auto impl = std::move(*opened);

  try {
    auto schema = impl->get(Column::Meta, kMetaSchema);
    if (!schema) return util::fail(where + " is an unfinished chain store (no schema record); delete it and retry");
    if (schema->size() != 4) return util::fail(where + ": schema record is corrupt");
    std::uint32_t version = 0;
    for (int i = 0; i < 4; ++i)
      version |= static_cast<std::uint32_t>(static_cast<std::uint8_t>((*schema)[i])) << (8 * i);
    if (version != kSchemaVersion)
      return util::fail("chain store " + where + " has schema version " + std::to_string(version) +
                        ", this build reads version " + std::to_string(kSchemaVersion));

    auto spec_raw = impl->get(Column::Meta, kMetaGenesisSpec);
    if (!spec_raw) return util::fail(where + ": genesis record is missing");
    auto spec = chain::decode_genesis(bytes_of(*spec_raw));
    if (!spec) return util::fail(where + ": " + spec.error().message);
    impl->genesis = *spec;
    impl->genesis_hash = chain::genesis_hash(impl->genesis);
    auto stored_hash = impl->get(Column::Meta, kMetaGenesisHash);
    if (!stored_hash || *stored_hash != view(impl->genesis_hash))
      return util::fail(where + ": genesis record does not match its hash (store corrupt)");
    if (options.genesis && chain::genesis_hash(*options.genesis) != impl->genesis_hash)
      return util::fail("chain store " + where + " belongs to network '" + impl->genesis.network + "' with genesis " +
                        impl->genesis_hash.hex() + ", but the configured genesis (network '" +
                        options.genesis->network + "') is " + chain::genesis_hash(*options.genesis).hex() +
                        "; use another data_dir or the matching genesis");
    impl->schedule.emplace(impl->genesis);
    impl->load_tip();
  } catch (const StoreFailure& e) {
    return util::fail(e.what());
  }
  return std::unique_ptr<ChainStore>(new ChainStore(std::move(impl)));
}

const fs::path& ChainStore::path() const { return impl_->path; }
bool ChainStore::read_only() const { return impl_->read_only; }
const chain::GenesisSpec& ChainStore::genesis() const { return impl_->genesis; }
const crypto::Hash32& ChainStore::genesis_hash() const { return impl_->genesis_hash; }
const chain::Schedule& ChainStore::schedule() const { return *impl_->schedule; }
chain::TipRef ChainStore::tip() const { return impl_->tip; }

std::optional<chain::BlockHeader> ChainStore::header(const crypto::Hash32& hash) const { return impl_->header(hash); }

std::optional<chain::Block> ChainStore::block(const crypto::Hash32& hash) const {
  auto raw = impl_->get(Column::Blocks, view(hash));
  if (!raw) return std::nullopt;
  auto b = chain::decode_block(bytes_of(*raw));
  if (!b) throw StoreFailure("chain store: block " + hash.hex() + " is corrupt: " + b.error().message);
  return *b;
}

std::optional<crypto::Hash32> ChainStore::hash_at(std::uint64_t height) const { return impl_->hash_at(height); }

bool ChainStore::has_block(const crypto::Hash32& hash) const {
  return impl_->get(Column::Blocks, view(hash)).has_value();
}

tl::expected<AcceptResult, chain::BlockError> ChainStore::accept_block(const chain::Block& block,
                                                                       const AcceptOptions& options) {
  auto r = accept_blocks(std::span<const chain::Block>(&block, 1), options);
  if (r.error) return tl::unexpected(std::move(*r.error));
  return r.results.front();
}

BatchResult ChainStore::accept_blocks(std::span<const chain::Block> blocks, const AcceptOptions& options,
                                      std::span<const char> prechecked) {
  if (impl_->read_only) throw StoreFailure("chain store: accept_block on a read-only store");
  auto& im = *impl_;
  BatchResult out;
  out.results.reserve(blocks.size());
  const chain::ValidationContext ctx{*im.schedule, options.now_ms ? options.now_ms : util::now_ms(),
                                     options.max_clock_drift_ms};

  // Blocks that extend the tip are staged here and written together; the
  // in-memory tip runs ahead of the store only inside this function.
  rocksdb::WriteBatch staged;
  std::size_t staged_blocks = 0;
  auto flush = [&] {
    if (staged_blocks == 0) return;
    staged.Put(im.cf(Column::Meta), slice(kMetaTip), slice(view(im.tip.hash)));
    im.write(staged);
    staged.Clear();
    staged_blocks = 0;
  };
  auto fail = [&](chain::BlockError e) {
    flush();
    out.error = std::move(e);
    return std::move(out);
  };

  for (std::size_t i = 0; i < blocks.size(); ++i) {
    const auto& block = blocks[i];
    const bool checked = i < prechecked.size() && prechecked[i];
    const auto hash = block.hash();
    // The fast path: the block extends the tip (whose header is at hand).
    if (im.tip_header && block.header.parent == im.tip.hash) {
      if (has_block(hash)) {  // a side-branch block from before: stored, not re-applied
        out.results.push_back(AcceptResult{AcceptStatus::AlreadyKnown, im.tip, 0});
        continue;
      }
      if (auto r = chain::check_header_rules(block.header, *im.tip_header, im.tip.hash, ctx); !r)
        return fail(r.error());
      if (!checked) {
        if (auto r = chain::check_signature(block.header); !r) return fail(r.error());
        if (auto r = chain::check_body(block); !r) return fail(r.error());
      }
      const auto encoded = chain::encode(block);
      staged.Put(im.cf(Column::Blocks), slice(view(hash)), slice(encoded));
      staged.Put(im.cf(Column::Headers), slice(view(hash)), slice(chain::encode(block.header)));
      staged.Put(im.cf(Column::Main), slice(height_key(block.header.height)), slice(view(hash)));
      im.tip = {block.header.height, hash};
      im.tip_header = block.header;
      out.results.push_back(AcceptResult{AcceptStatus::Extended, im.tip, 0});
      if (++staged_blocks >= kMaxBlocksPerBatch || staged.GetDataSize() >= kMaxBatchBytes) flush();
      continue;
    }
    // Anything else (a side branch, a reorganisation, an unknown parent)
    // reads the store: write what is staged first.
    flush();
    auto r = im.accept_one(block, hash, checked, ctx, options);
    if (!r) return fail(r.error());
    out.results.push_back(*r);
  }
  flush();
  return out;
}

tl::expected<AcceptResult, chain::BlockError> ChainStore::Impl::accept_one(const chain::Block& block,
                                                                           const crypto::Hash32& hash, bool checked,
                                                                           const chain::ValidationContext& ctx,
                                                                           const AcceptOptions& options) {
  if (get(Column::Blocks, view(hash))) return AcceptResult{AcceptStatus::AlreadyKnown, tip, 0};
  auto parent = header(block.header.parent);
  if (!parent)
    return tl::unexpected(chain::BlockError{chain::BlockFault::UnknownParent,
                                            "parent " + block.header.parent.short_hex() + " is not known"});
  if (auto r = chain::check_header_rules(block.header, *parent, block.header.parent, ctx); !r)
    return tl::unexpected(r.error());
  if (!checked) {
    if (auto r = chain::check_signature(block.header); !r) return tl::unexpected(r.error());
    if (auto r = chain::check_body(block); !r) return tl::unexpected(r.error());
  }

  rocksdb::WriteBatch batch;
  batch.Put(cf(Column::Blocks), slice(view(hash)), slice(chain::encode(block)));
  batch.Put(cf(Column::Headers), slice(view(hash)), slice(chain::encode(block.header)));

  chain::TipRef candidate{block.header.height, hash};
  AcceptResult result{AcceptStatus::SideBranch, tip, 0};
  if (chain::is_better_tip(candidate, tip)) {
    // Walk back from the new block to the first ancestor on the main chain.
    std::vector<std::pair<std::uint64_t, crypto::Hash32>> branch{{block.header.height, hash}};
    crypto::Hash32 cursor = block.header.parent;
    std::uint64_t height = block.header.height - 1;
    for (;;) {
      auto on_main = hash_at(height);
      if (on_main && *on_main == cursor) break;
      auto h = header(cursor);
      if (!h) throw StoreFailure("chain store: ancestor " + cursor.hex() + " missing");
      branch.emplace_back(height, cursor);
      cursor = h->parent;
      --height;  // genesis is on every branch, so this stops at 0 at the latest
    }
    const std::uint64_t fork_height = height;
    const std::uint64_t depth = tip.height - fork_height;
    if (depth > options.max_reorg_depth) {
      result.status = AcceptStatus::ReorgTooDeep;
      result.reorg_depth = depth;
    } else {
      for (const auto& [h, bh] : branch) batch.Put(cf(Column::Main), slice(height_key(h)), slice(view(bh)));
      for (std::uint64_t h = candidate.height + 1; h <= tip.height; ++h)
        batch.Delete(cf(Column::Main), slice(height_key(h)));
      batch.Put(cf(Column::Meta), slice(kMetaTip), slice(view(hash)));
      result.status = depth == 0 ? AcceptStatus::Extended : AcceptStatus::Reorganized;
      result.reorg_depth = depth;
      result.tip = candidate;
    }
  }
  write(batch);
  if (result.tip != tip) tip_header = block.header;
  tip = result.tip;
  return result;
}

void ChainStore::refresh() {
  if (!impl_->read_only) return;
  check(impl_->db->TryCatchUpWithPrimary(), "catch up with the writer");
  impl_->load_tip();
}

void ChainStore::write_records(Column c, const std::vector<std::pair<std::string, std::string>>& puts,
                               const std::vector<std::string>& erases) {
  if (impl_->read_only) throw StoreFailure("chain store: write_records on a read-only store");
  if (c != Column::Peers && c != Column::Bans)
    throw StoreFailure(std::string("chain store: write_records is for peers and bans, not ") + to_string(c));
  rocksdb::WriteBatch batch;
  for (const auto& [k, v] : puts) batch.Put(impl_->cf(c), slice(k), slice(v));
  for (const auto& k : erases) batch.Delete(impl_->cf(c), slice(k));
  impl_->write(batch);
}

std::optional<std::string> ChainStore::get_raw(Column c, std::string_view key) const { return impl_->get(c, key); }

void ChainStore::for_each_raw(Column c, const std::function<bool(std::string_view, std::string_view)>& fn) const {
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(rocksdb::ReadOptions(), impl_->cf(c)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    auto k = it->key();
    auto v = it->value();
    if (!fn({k.data(), k.size()}, {v.data(), v.size()})) break;
  }
  check(it->status(), std::string("iterate ") + to_string(c));
}

void ChainStore::put_raw(Column c, std::string_view key, std::string_view value) {
  if (impl_->read_only) throw StoreFailure("chain store: put_raw on a read-only store");
  rocksdb::WriteBatch batch;
  batch.Put(impl_->cf(c), slice(key), slice(value));
  impl_->write(batch);
}

}  // namespace core::store
