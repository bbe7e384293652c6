// Sequential::build(): the last step of the builder, which lives with Model because it makes one.
#include "democratising/model.hpp"
#include "democratising/nn/sequential.hpp"

namespace dm::nn {

Model Sequential::build(const ModelOptions& options) && {
  auto net = std::make_shared<Sequential>(std::move(*this));
  net->flatten_parameters();
  return Model(std::move(net), options);
}

Model Sequential::build() && { return std::move(*this).build(ModelOptions{}); }

}  // namespace dm::nn
