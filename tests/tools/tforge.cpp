// tforge: forge a valid chain file from a tgenesis testnet directory, or
// damage one block of a store on purpose. For tests and benchmarks only.
//
//   tforge chain --testnet DIR --blocks N --out FILE [--skip-every K]
//   tforge corrupt --data-dir DIR --height H [--offset K]

#include <iostream>

#include "common/app.hpp"
#include "forge.hpp"
#include "libcore/crypto/hash.hpp"
#include "libcore/store/chain_file.hpp"
#include "libcore/store/chain_store.hpp"

namespace {

int forge_file(const std::string& testnet, std::uint64_t blocks, std::uint64_t skip_every, const std::string& out) {
  auto net = forge::load_testnet(testnet);
  if (!net) return app::report_error("tforge", net.error().message, app::kUsage);
  auto& [spec, keys] = *net;
  auto chain =
      forge::forge_chain(spec, keys, core::chain::genesis_header(spec), {.count = blocks, .skip_every = skip_every});
  if (!chain) return app::report_error("tforge", chain.error().message, app::kFailure);
  auto writer = core::store::ChainFileWriter::create(out, spec);
  if (!writer) return app::report_error("tforge", writer.error().message, app::kFailure);
  for (const auto& b : *chain)
    if (auto r = writer->append(b); !r) return app::report_error("tforge", r.error().message, app::kFailure);
  if (auto r = writer->finish(); !r) return app::report_error("tforge", r.error().message, app::kFailure);
  std::cout << (chain->empty() ? core::chain::genesis_hash(spec).hex() : chain->back().hash().hex()) << "\n";
  return app::kOk;
}

int corrupt(const std::string& data_dir, std::uint64_t height, std::int64_t offset) {
  core::store::OpenOptions options;
  options.path = app::store_path_of(data_dir);
  options.create_if_missing = false;
  auto store = core::store::ChainStore::open(options);
  if (!store) return app::report_error("tforge", store.error().message, app::kFailure);
  auto hash = (*store)->hash_at(height);
  if (!hash) return app::report_error("tforge", "no block at height " + std::to_string(height), app::kFailure);
  std::string key(reinterpret_cast<const char*>(hash->data()), 32);
  auto value = (*store)->get_raw(core::store::Column::Blocks, key);
  if (!value || value->empty()) return app::report_error("tforge", "block missing", app::kFailure);
  std::size_t at = offset >= 0 ? static_cast<std::size_t>(offset) : value->size() / 2;
  if (at >= value->size()) return app::report_error("tforge", "offset beyond the block", app::kUsage);
  (*value)[at] = static_cast<char>((*value)[at] ^ 0x01);
  (*store)->put_raw(core::store::Column::Blocks, key, *value);
  std::cout << hash->hex() << "\n";
  return app::kOk;
}

}  // namespace

int main(int argc, char** argv) {
  core::crypto::init();
  CLI::App cli{"tforge: forge chains and damage stores, for tests", "tforge"};
  cli.require_subcommand(1);
  std::string testnet, out, data_dir;
  std::uint64_t blocks = 0, skip_every = 0, height = 0;
  std::int64_t offset = -1;
  auto* chain = cli.add_subcommand("chain", "Forge a valid chain file");
  chain->add_option("--testnet", testnet, "tgenesis testnet directory (genesis.toml, node*/node.key)")->required();
  chain->add_option("--blocks", blocks, "Number of blocks")->required();
  chain->add_option("--skip-every", skip_every, "Leave every K-th slot empty");
  chain->add_option("--out", out, "Chain file to write")->required();
  auto* damage = cli.add_subcommand("corrupt", "Flip one byte of the stored block at a height");
  damage->add_option("--data-dir", data_dir, "Data dir or store dir")->required();
  damage->add_option("--height", height, "Main-chain height")->required();
  damage->add_option("--offset", offset, "Byte offset in the stored block (default: the middle)");
  if (auto code = app::parse_cli(cli, argc, argv)) return *code;
  try {
    if (chain->parsed()) return forge_file(testnet, blocks, skip_every, out);
    return corrupt(data_dir, height, offset);
  } catch (const core::store::StoreFailure& e) {
    return app::report_error("tforge", e.what(), app::kFailure);
  }
}
