// A read-only YAML tree for the files loaded on every start (the mapping files): parsed with
// libyaml's event parser, ~10x fewer instructions than yaml-cpp 0.7, whose scanner matches a tree of
// RegEx objects per input character (docs/performance.md, "Start-up").
//
// The tree is what yaml-cpp's YAML::Load gives for the same text, node for node: scalars as text,
// the tag ("?" plain, "!" quoted or block, else the resolved explicit tag), plain "", "~", "null",
// "Null", "NULL" as null nodes, aliases as their anchor's node, the first document only, and each
// node's position (0-based, yaml-cpp's Mark). The names follow yaml-cpp's Node (IsMap(), Scalar(),
// Tag(), Mark()) so code reads the same. Whatever libyaml refuses (a syntax error, an unknown alias,
// nesting deeper than 1000) is parsed again with yaml-cpp: its error (YAML::ParserException with its
// mark) is the one reported, as before, and if it accepts the text its tree is used, converted.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace siem::yaml {

struct Mark {
  int line = -1;  // 0-based, like YAML::Mark
  int column = -1;
};

class Node {
 public:
  enum class Type { undefined, null, scalar, sequence, map };

  Node() = default;  // undefined: what a missed lookup returns

  Type type() const noexcept { return d_ ? d_->type : Type::undefined; }
  bool IsDefined() const noexcept { return d_ != nullptr; }
  bool IsNull() const noexcept { return type() == Type::null; }
  bool IsScalar() const noexcept { return type() == Type::scalar; }
  bool IsSequence() const noexcept { return type() == Type::sequence; }
  bool IsMap() const noexcept { return type() == Type::map; }
  explicit operator bool() const noexcept { return IsDefined(); }

  const std::string& Scalar() const noexcept;  // "" unless a scalar
  const std::string& Tag() const noexcept;
  yaml::Mark Mark() const noexcept { return d_ ? d_->mark : yaml::Mark{}; }

  // A sequence's items (empty otherwise); a map's entries in file order (empty otherwise).
  const std::vector<Node>& elements() const noexcept;
  const std::vector<std::pair<Node, Node>>& entries() const noexcept;
  std::size_t size() const noexcept { return IsMap() ? entries().size() : elements().size(); }

  // A map's value for `key` (the first scalar key equal to it, as yaml-cpp matches), else undefined.
  Node operator[](std::string_view key) const;

  // Converted exactly as yaml-cpp's as<T>() converts (throws YAML::TypedBadConversion likewise; a
  // null is "null" as a string).
  template <typename T>
  T as() const {
    if (IsNull()) return YAML::Node(YAML::NodeType::Null).as<T>();
    if (!IsScalar()) throw YAML::TypedBadConversion<T>(YAML::Mark::null_mark());
    return YAML::Node(Scalar()).as<T>();
  }

  struct Data {
    Type type = Type::null;
    std::string scalar;
    std::string tag;
    yaml::Mark mark;
    std::vector<Node> items;
    std::vector<std::pair<Node, Node>> pairs;
  };
  explicit Node(std::shared_ptr<Data> d) : d_(std::move(d)) {}

 private:
  std::shared_ptr<Data> d_;
};

// The first document of `text` (a null node when there is none). Throws YAML::ParserException
// (yaml-cpp's, with its mark) when the text is not YAML.
Node load(std::string_view text);
// A file that cannot be read (missing, not a regular file, over kMaxConfigFileBytes): `reason` says
// which, with the path.
struct FileError : YAML::BadFile {
  FileError(const std::string& path, std::string why) : YAML::BadFile(path), reason(std::move(why)) {}
  std::string reason;
};
// load() of a file's content, read with read_regular_file() (bounded; a FIFO is refused);
// throws FileError (a YAML::BadFile) when it cannot be read.
Node load_file(const std::string& path);
// The same tree from a yaml-cpp node (marks kept).
Node from_yaml_cpp(const YAML::Node& node);

}  // namespace siem::yaml
