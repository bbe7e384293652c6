#pragma once
// The training settings each `dm train --model` family starts from. One set for every family
// would serve none of them well: the MLP trains best with SGD at 0.02 over 10 epochs, the
// convolutional net reaches its accuracy in fewer epochs with Adam, and the transformer wants
// AdamW at a low rate. A flag given on the command line always wins over the recipe, and a
// resumed run takes what its checkpoint recorded (fill_from_checkpoint), so the recipe only
// fills what nobody said.
#include <string>

#include "commands.hpp"

namespace dm::cli {

/// What a family trains with unless told otherwise.
struct FamilyRecipe {
  const char* family;     // "mlp", "cnn" or "vit": the --model spec's first word
  int epochs;
  const char* optimizer;  // "sgd", "adam" or "adamw"
  double lr;              // the peak of the cosine schedule
};

/// The recipe of the family a --model spec names (model_family).
const FamilyRecipe& recipe_for_model(const std::string& spec);

/// Sets --epochs, --optimizer and --lr from the model's recipe where the command line gave none
/// (--lr only while the optimizer is the recipe's).
void apply_family_recipe(const CLI::App& train_command, TrainOptions& options);

/// "mlp: sgd at 0.02 for 10 epochs; cnn: ...; vit: ...", for the help text.
std::string family_recipes_text();

}  // namespace dm::cli
