#include "family_recipes.hpp"

#include <array>
#include <cstdio>
#include <string_view>

#include "model_families.hpp"

namespace dm::cli {
namespace {

// Measured on Fashion-MNIST on 2 cores (benchmarks/RESULTS.md, "Models and simulated links"):
// each reaches its family's accuracy target within the time given there.
constexpr std::array<FamilyRecipe, 3> kRecipes{{
    {.family = "mlp", .epochs = 10, .optimizer = "sgd", .lr = 0.02},
    {.family = "cnn", .epochs = 5, .optimizer = "adam", .lr = 0.002},
    {.family = "vit", .epochs = 10, .optimizer = "adamw", .lr = 0.001},
}};

}  // namespace

const FamilyRecipe& recipe_for_model(const std::string& spec) {
  const std::string_view family = model_family(spec);
  for (const FamilyRecipe& recipe : kRecipes)
    if (family == recipe.family) return recipe;
  return kRecipes[0];
}

void apply_family_recipe(const CLI::App& train_command, TrainOptions& options) {
  const FamilyRecipe& recipe = recipe_for_model(options.model);
  if (train_command.count("--epochs") == 0) options.epochs = recipe.epochs;
  if (train_command.count("--optimizer") == 0) options.optimizer = recipe.optimizer;
  // A recipe's rate belongs to its optimizer: with another one given, --lr keeps dm train's
  // general default (TrainOptions), as it did before families had recipes.
  if (train_command.count("--lr") == 0 && options.optimizer == recipe.optimizer) options.lr = recipe.lr;
}

std::string family_recipes_text() {
  std::string text;
  for (const FamilyRecipe& recipe : kRecipes) {
    char line[96];
    std::snprintf(line, sizeof line, "%s%s: %s at %g for %d epochs", text.empty() ? "" : "; ", recipe.family,
                  recipe.optimizer, recipe.lr, recipe.epochs);
    text += line;
  }
  return text;
}

}  // namespace dm::cli
