#include "runtime/protocol.h"

#include <gtest/gtest.h>

using namespace loadmatrix;

TEST(ProtocolTest, OnlyALineThatStartsWithTheMarkerIsTheRuntimes) {
  EXPECT_TRUE(is_protocol_line("@loadmatrix {}"));
  EXPECT_FALSE(is_protocol_line("Error in cpuinfo: @loadmatrix {}"));
  EXPECT_FALSE(is_protocol_line("@loadmatrix{}"));
  EXPECT_FALSE(is_protocol_line(""));
}

TEST(ProtocolTest, EveryLineIsReadInOrderAndNoiseIsSkipped) {
  auto messages = protocol_messages("[UCX] warning\n@loadmatrix {\"a\": 1}\nnoise @loadmatrix "
                                    "{\"b\": 2}\n@loadmatrix {\"c\": 3}",
                                    "env x: probe");
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[0]->at("a"), 1);
  EXPECT_EQ(messages[1]->at("c"), 3); // the last line needs no newline
}

TEST(ProtocolTest, ALineThatIsNotJsonIsAnErrorNamingItsOrigin) {
  auto messages = protocol_messages("@loadmatrix {this is not json\n@loadmatrix {}\n", "env x: w");
  ASSERT_EQ(messages.size(), 2u);
  ASSERT_FALSE(messages[0]);
  EXPECT_NE(messages[0].error().message.find("env x: w"), std::string::npos);
  EXPECT_TRUE(messages[1]);
  EXPECT_FALSE(parse_protocol_line("{}", "env x: w"));
}

TEST(ProtocolTest, AnInvalidUtf8ByteInAStringIsKeptAsText) {
  auto message = parse_protocol_line("@loadmatrix {\"file\": \"bad\xffname\"}", "w");
  ASSERT_TRUE(message);
  EXPECT_EQ(message->at("file"), "bad\\xffname");
}

TEST(ProtocolTest, AReportingScriptsLastLineIsItsReport) {
  auto report = final_protocol_message("@loadmatrix {\"n\": 1}\nx\n@loadmatrix {\"n\": 2}\n", "f");
  ASSERT_TRUE(report);
  EXPECT_EQ(report->at("n"), 2);
  auto none = final_protocol_message("Error in cpuinfo\n", "env sid: fingerprint.py");
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().message,
            "env sid: fingerprint.py: the probe printed no '@loadmatrix' report line");
  EXPECT_FALSE(final_protocol_message("@loadmatrix {\"n\": 1}\n@loadmatrix [oops\n", "f"));
}
