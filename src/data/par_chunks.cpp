// DataLoader::par_chunks: a copy of the loader cut at another batch size.
#include "democratising/data/par_chunks.hpp"

#include <string>

#include "democratising/base/error.hpp"

namespace dm::data {

ParallelChunks DataLoader::par_chunks(std::int64_t batch_size) const {
  if (batch_size < 1) throw ValueError("[par_chunks] batch_size must be at least 1, got " + std::to_string(batch_size));
  DataLoaderOptions options = options_;
  options.batch_size = batch_size;
  // Same dataset handle, seed and epoch: the sample order is the loader's, only cut differently.
  DataLoader chunks(dataset_, options);
  chunks.set_epoch(epoch_);
  return ParallelChunks(std::move(chunks));
}

}  // namespace dm::data
