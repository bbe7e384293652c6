// Sequential::build(): the last step of the builder, which lives with Model because it makes one.
#include "democratising/model/model.hpp"
#include "democratising/nn/sequential.hpp"

namespace dm {

Model nn::Finish<nn::Sequential>::make(nn::Sequential&& network, const ModelOptions& options) {
  auto net = std::make_shared<nn::Sequential>(std::move(network));
  net->flatten_parameters();
  return Model(std::move(net), options);
}

}  // namespace dm
