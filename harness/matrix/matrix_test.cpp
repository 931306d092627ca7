#include "cli/resources.h"
#include "matrix/matrix.h"

#include <fmt/core.h>
#include <gtest/gtest.h>

using namespace loadmatrix;

namespace {

std::string error_of(const std::string& text) {
  try {
    auto json = parse_json(text, "bad.json");
    if (!json) {
      return json.error().message;
    }
    parse_matrix(*json, "bad.json");
  } catch (const FatalError& e) {
    return e.what();
  }
  return "";
}

} // namespace

TEST(MatrixTest, TheDebianMatrixDeclaresTheFourEnvsOldestFirst) {
  Matrix matrix = load_matrix(resources().home / "matrix" / "debian.json");
  ASSERT_EQ(matrix.envs.size(), 4u);
  EXPECT_EQ(matrix.envs[0].name, "bullseye");
  EXPECT_EQ(matrix.envs[0].kind, EnvKind::debian);
  matrix.envs.erase(matrix.envs.begin());
  EXPECT_EQ(matrix.envs[0].name, "bookworm");
  EXPECT_EQ(matrix.envs[0].kind, EnvKind::local);
  EXPECT_EQ(matrix.envs[0].python, "/usr/bin/python3");
  EXPECT_EQ(matrix.envs[1].suite, "trixie");
  EXPECT_EQ(matrix.envs[1].packages, default_debian_packages());
  EXPECT_EQ(matrix.envs[2].apt_options.size(), 1u);
}

TEST(MatrixTest, MalformedJsonNamesLineAndColumn) {
  EXPECT_EQ(error_of("{\"schema\": \"loadmatrix.matrix/1\",\n\"envs\": [}"),
            "bad.json:2:10: invalid JSON: syntax error while parsing value - unexpected '}'; "
            "expected '[', '{', or a literal");
}

TEST(MatrixTest, UnknownFieldIsAnErrorNotASilentDefault) {
  EXPECT_EQ(error_of(R"({"schema": "loadmatrix.matrix/1",
    "envs": [{"name": "a", "kind": "debian", "sutie": "trixie"}]})"),
            "bad.json: envs[0].sutie: unknown field (expected one of: name, kind, description, "
            "suite, packages, apt_options, mirror)");
}

TEST(MatrixTest, MissingAndMistypedFieldsAreNamed) {
  EXPECT_EQ(
      error_of(R"({"schema": "loadmatrix.matrix/1", "envs": [{"name": "a", "kind": "debian"}]})"),
      "bad.json: envs[0].suite: missing required field");
  EXPECT_EQ(
      error_of(
          R"({"schema": "loadmatrix.matrix/1", "envs": [{"name": "a", "kind": "local", "python": 3}]})"),
      "bad.json: envs[0].python: expected a string, got number");
  EXPECT_EQ(
      error_of(
          R"({"schema": "loadmatrix.matrix/1", "envs": [{"name": "a", "kind": "local", "python": "python3"}]})"),
      "bad.json: envs[0].python: 'python3' must be an absolute path to an interpreter");
  EXPECT_EQ(
      error_of(R"({"schema": "loadmatrix.matrix/1", "envs": [{"name": "a", "kind": "docker"}]})"),
      "bad.json: envs[0].kind: unknown env kind 'docker' (expected 'debian', 'local', "
      "'container' or 'pip')");
  EXPECT_EQ(error_of(R"({"schema": "loadmatrix.matrix/2", "envs": []})"),
            "bad.json: schema: unsupported schema 'loadmatrix.matrix/2' (this loadmatrix reads "
            "'loadmatrix.matrix/1')");
}

TEST(MatrixTest, RejectsDuplicateAndUnsafeEnvNames) {
  EXPECT_EQ(error_of(R"({"schema": "loadmatrix.matrix/1", "envs": [
    {"name": "a", "kind": "debian", "suite": "sid"}, {"name": "a", "kind": "debian", "suite": "sid"}]})"),
            "bad.json: envs[1].name: duplicate env name 'a'");
  EXPECT_NE(
      error_of(
          R"({"schema": "loadmatrix.matrix/1", "envs": [{"name": "../x", "kind": "debian", "suite": "sid"}]})")
          .find("envs[0].name: '../x' is not a valid env name"),
      std::string::npos);
}

TEST(MatrixTest, SelectingAnUnknownEnvNamesTheKnownOnes) {
  Matrix matrix = load_matrix(resources().home / "matrix" / "debian.json");
  try {
    matrix.select_envs({"buster"});
    FAIL() << "expected an error";
  } catch (const FatalError& e) {
    EXPECT_NE(std::string(e.what()).find(
                  "no env named 'buster' (the matrix has: bullseye, bookworm, trixie, sid)"),
              std::string::npos)
        << e.what();
  }
}

TEST(MatrixTest, AContainerEnvNamesItsImageEngineAndRecipe) {
  auto json = parse_json(R"({"schema": "loadmatrix.matrix/1", "envs": [
    {"name": "trixie", "kind": "debian", "suite": "trixie"},
    {"name": "pt24", "kind": "container", "python": "/opt/conda/bin/python",
     "image": "docker.io/pytorch/pytorch:2.4.1-cuda12.1-cudnn9-runtime", "engine": ["docker"]},
    {"name": "trixie-image", "kind": "container", "image": "localhost/lm-trixie:1",
     "engine": ["podman", "--runtime", "runc"], "run_options": ["--ulimit=host"],
     "from_env": "trixie"}]})",
                         "c.json");
  Matrix matrix = parse_matrix(*json, "c.json");
  EXPECT_EQ(matrix.envs[1].kind, EnvKind::container);
  EXPECT_EQ(matrix.envs[1].python, "/opt/conda/bin/python");
  EXPECT_EQ(matrix.envs[1].engine, std::vector<std::string>{"docker"});
  EXPECT_EQ(matrix.envs[1].from_env, nullptr);
  ASSERT_NE(matrix.envs[2].from_env, nullptr);
  EXPECT_EQ(matrix.envs[2].from_env->suite, "trixie");
  EXPECT_EQ(matrix.envs[2].python, "python3");
  // The recipe is part of the identity: a changed source env makes the image stale.
  EXPECT_EQ(matrix.envs[2].identity()["from_env"]["suite"], "trixie");
}

TEST(MatrixTest, AContainerEnvRefusesWhatWouldUndoItsSandbox) {
  EXPECT_EQ(error_of(R"({"schema": "loadmatrix.matrix/1", "envs": [
    {"name": "pt26", "kind": "container", "command": ["docker", "run", "img"]}]})"),
            "bad.json: envs[0].command: a container env now names its image and engine instead "
            "of a command prefix: {\"image\": \"IMAGE\", \"engine\": [\"podman\"]} (doc/envs.md, "
            "\"Env kinds\")");
  for (const char* option : {"--network=host", "-v/:/host", "-iv/:/host", "--privileged",
                             "--cap-add=ALL", "--env-host", "--init", "--rootfs=/"}) {
    std::string error = error_of(fmt::format(R"({{"schema": "loadmatrix.matrix/1", "envs": [
      {{"name": "c", "kind": "container", "image": "i", "run_options": ["{}"]}}]}})",
                                             option));
    EXPECT_TRUE(error.starts_with(fmt::format("bad.json: envs[0].run_options: '{}' is not one "
                                              "of the run options loadmatrix passes on",
                                              option)))
        << error;
  }
  // The likeliest slip: an option and its value as two elements.
  EXPECT_EQ(error_of(R"({"schema": "loadmatrix.matrix/1", "envs": [
    {"name": "c", "kind": "container", "image": "i", "run_options": ["--ulimit", "nofile=1:1"]}]})"),
            "bad.json: envs[0].run_options: '--ulimit' needs its value in the same element: "
            "\"--ulimit=VALUE\"");
  EXPECT_EQ(error_of(R"({"schema": "loadmatrix.matrix/1", "envs": [
    {"name": "c", "kind": "container", "image": "localhost/i", "from_env": "sid"}]})"),
            "bad.json: envs[0].from_env: 'sid' is not a debian env declared before this one");
  // An image made here must not take a registry image's name.
  EXPECT_EQ(error_of(R"({"schema": "loadmatrix.matrix/1", "envs": [
    {"name": "c", "kind": "container", "image": "docker.io/pytorch/pytorch:2.4.1", "suite": "trixie"}]})"),
            "bad.json: envs[0].image: 'docker.io/pytorch/pytorch:2.4.1': an image loadmatrix makes "
            "from a recipe is named localhost/NAME[:TAG], so that it never stands in for an image "
            "of that name from a registry");
  EXPECT_EQ(error_of(R"({"schema": "loadmatrix.matrix/1", "envs": [
    {"name": "c", "kind": "container", "image": "i", "engine": []}]})"),
            "bad.json: envs[0].engine: empty; leave it out for [\"podman\"]");
  EXPECT_EQ(error_of(R"({"schema": "loadmatrix.matrix/1", "envs": [
    {"name": "c", "kind": "container", "image": "i", "python": "conda/bin/python"}]})"),
            "bad.json: envs[0].python: 'conda/bin/python' must be an absolute path inside the "
            "image or a name on its PATH (e.g. /opt/conda/bin/python, python3)");
  EXPECT_EQ(error_of(R"({"schema": "loadmatrix.matrix/1", "envs": [
    {"name": "c", "kind": "container", "image": "i", "packages": ["python3-torch"]}]})"),
            "bad.json: envs[0].packages: only meaningful with 'suite' (the Debian suite the image "
            "is built from)");
}

TEST(MatrixTest, APipEnvNamesItsRequirementsAndBaseInterpreter) {
  auto json = parse_json(R"({"schema": "loadmatrix.matrix/1", "envs": [
    {"name": "torch-2.4", "kind": "pip", "requirements": ["torch==2.4.1", "numpy<2"]},
    {"name": "lightning-2.6", "kind": "pip", "python": "3.11",
     "requirements": ["torch==2.6.0", "lightning==2.6.0"]}]})",
                         "m.json");
  Matrix matrix = parse_matrix(json.value(), "m.json");
  EXPECT_EQ(matrix.envs[0].kind, EnvKind::pip);
  EXPECT_EQ(matrix.envs[0].python, "/usr/bin/python3");
  EXPECT_EQ(matrix.envs[0].requirements, (std::vector<std::string>{"torch==2.4.1", "numpy<2"}));
  EXPECT_EQ(matrix.envs[1].python, "3.11");
  EXPECT_EQ(matrix.envs[0].identity().at("requirements"), Json({"torch==2.4.1", "numpy<2"}));
  EXPECT_NE(matrix.envs[0].identity(), matrix.envs[1].identity());
}

TEST(MatrixTest, APipEnvRefusesOptionsAsRequirements) {
  EXPECT_EQ(error_of(R"({"schema": "loadmatrix.matrix/1", "envs": [
    {"name": "p", "kind": "pip", "requirements": []}]})"),
            "bad.json: envs[0].requirements: expected a non-empty list of requirements, e.g. "
            "[\"torch==2.4.1\", \"numpy<2\"]");
  EXPECT_EQ(error_of(R"({"schema": "loadmatrix.matrix/1", "envs": [
    {"name": "p", "kind": "pip", "requirements": ["torch", "--index-url=http://evil"]}]})"),
            "bad.json: envs[0].requirements: '--index-url=http://evil' is not a requirement (a "
            "name with an optional version, e.g. torch==2.4.1; options such as -r or "
            "--index-url, URLs and paths are refused)");
  EXPECT_NE(error_of(R"({"schema": "loadmatrix.matrix/1", "envs": [
    {"name": "p", "kind": "pip", "requirements": ["torch @ https://evil.invalid/t.whl"]}]})")
                .find("is not a requirement"),
            std::string::npos);
  EXPECT_EQ(error_of(R"({"schema": "loadmatrix.matrix/1", "envs": [
    {"name": "p", "kind": "pip", "requirements": ["torch"], "python": "python3"}]})"),
            "bad.json: envs[0].python: 'python3' must be an absolute path to the venv's base "
            "interpreter or a version such as 3.11");
  EXPECT_EQ(error_of(R"({"schema": "loadmatrix.matrix/1", "envs": [
    {"name": "p", "kind": "pip", "requirements": ["torch"], "suite": "sid"}]})"),
            "bad.json: envs[0].suite: unknown field (expected one of: name, kind, description, "
            "requirements, source_builds, python)");
  EXPECT_EQ(error_of(R"({"schema": "loadmatrix.matrix/1", "envs": [
    {"name": "p", "kind": "pip", "requirements": ["omegaconf"], "source_builds": ["--all"]}]})"),
            "bad.json: envs[0].source_builds: '--all' is not a distribution name (e.g. "
            "antlr4-python3-runtime)");
}

TEST(MatrixTest, ConsecutivePairsLoadTheEnvsOwnFilesAndThePreviousEnvs) {
  auto json = parse_json(R"({"schema": "loadmatrix.matrix/1", "pairs": "consecutive", "envs": [
    {"name": "a", "kind": "debian", "suite": "bullseye"},
    {"name": "b", "kind": "pip", "requirements": ["torch==2.5.1"]}]})",
                         "m.json");
  Matrix matrix = parse_matrix(json.value(), "m.json");
  EXPECT_EQ(matrix.pairs, Pairs::consecutive);
  std::vector<std::string> envs = {"a", "b", "c"};
  EXPECT_EQ(producers_loaded_by(envs, 0, Pairs::consecutive), (std::vector<std::string>{"a"}));
  EXPECT_EQ(producers_loaded_by(envs, 2, Pairs::consecutive), (std::vector<std::string>{"b", "c"}));
  EXPECT_EQ(producers_loaded_by(envs, 1, Pairs::all), envs);
  EXPECT_EQ(load_matrix(resources().home / "matrix" / "releases.json").pairs, Pairs::consecutive);
  EXPECT_EQ(error_of(R"({"schema": "loadmatrix.matrix/1", "pairs": "adjacent", "envs": [
    {"name": "a", "kind": "debian", "suite": "sid"}]})"),
            "bad.json: pairs: 'adjacent' is not a pairing (expected 'all': every env loads every "
            "env's files, or 'consecutive': its own and the previous env's)");
}
