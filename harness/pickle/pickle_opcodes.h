// Every pickle opcode, once: its pickletools name, its code, the protocol that introduced it,
// the walk's handler for it (pickle_walk.h), and its stack effect as pickletools documents it
// (`markobject` is a MARK, `stackslice` the items above it). The walker's dispatch and
// pickle_opcode_name are both made from this list, so they cannot disagree.
//   X(NAME, CODE, PROTOCOL, HANDLER, "STACK BEFORE -> STACK AFTER")
// A handler written op_x<N> reads an N-byte argument (a length, a memo key, a code).
#pragma once

// clang-format off
#define LOADMATRIX_PICKLE_OPCODES(X) \
  X(MARK, '(', 0, op_mark, "- -> mark") \
  X(STOP, '.', 0, op_stop, "any -> -") \
  X(POP, '0', 0, op_pop, "any -> -") \
  X(DUP, '2', 0, op_dup, "any -> any any") \
  X(FLOAT, 'F', 0, op_float_line, "- -> float") \
  X(INT, 'I', 0, op_int_line, "- -> int_or_bool") \
  X(LONG, 'L', 0, op_long_line, "- -> int") \
  X(NONE, 'N', 0, op_constant, "- -> None") \
  X(PERSID, 'P', 0, op_persid, "- -> any") \
  X(REDUCE, 'R', 0, op_reduce, "any any -> any") \
  X(STRING, 'S', 0, op_string_line, "- -> bytes_or_str") \
  X(UNICODE, 'V', 0, op_string_line, "- -> str") \
  X(APPEND, 'a', 0, op_append, "list any -> list") \
  X(BUILD, 'b', 0, op_build, "any any -> any") \
  X(GLOBAL, 'c', 0, op_global, "- -> any") \
  X(DICT, 'd', 0, op_dict, "mark stackslice -> dict") \
  X(GET, 'g', 0, op_get_line, "- -> any") \
  X(INST, 'i', 0, op_inst, "mark stackslice -> any") \
  X(LIST, 'l', 0, op_collection, "mark stackslice -> list") \
  X(PUT, 'p', 0, op_put_line, "- -> -") \
  X(SETITEM, 's', 0, op_setitem, "dict any any -> dict") \
  X(TUPLE, 't', 0, op_tuple, "mark stackslice -> tuple") \
  X(EMPTY_TUPLE, ')', 1, op_empty_container, "- -> tuple") \
  X(POP_MARK, '1', 1, op_pop_mark, "mark stackslice -> -") \
  X(BINFLOAT, 'G', 1, op_binfloat, "- -> float") \
  X(BININT, 'J', 1, op_binint<4>, "- -> int") \
  X(BININT1, 'K', 1, op_binint<1>, "- -> int") \
  X(BININT2, 'M', 1, op_binint<2>, "- -> int") \
  X(BINPERSID, 'Q', 1, op_binpersid, "any -> any") \
  X(BINSTRING, 'T', 1, op_string<4>, "- -> bytes_or_str") \
  X(SHORT_BINSTRING, 'U', 1, op_string<1>, "- -> bytes_or_str") \
  X(BINUNICODE, 'X', 1, op_string<4>, "- -> str") \
  X(EMPTY_LIST, ']', 1, op_empty_container, "- -> list") \
  X(APPENDS, 'e', 1, op_appends, "list mark stackslice -> list") \
  X(BINGET, 'h', 1, op_get<1>, "- -> any") \
  X(LONG_BINGET, 'j', 1, op_get<4>, "- -> any") \
  X(OBJ, 'o', 1, op_obj, "mark any stackslice -> any") \
  X(BINPUT, 'q', 1, op_put<1>, "- -> -") \
  X(LONG_BINPUT, 'r', 1, op_put<4>, "- -> -") \
  X(SETITEMS, 'u', 1, op_setitems, "dict mark stackslice -> dict") \
  X(EMPTY_DICT, '}', 1, op_empty_container, "- -> dict") \
  X(PROTO, 0x80, 2, op_proto, "- -> -") \
  X(NEWOBJ, 0x81, 2, op_newobj, "any any -> any") \
  X(EXT1, 0x82, 2, op_ext<1>, "- -> any") \
  X(EXT2, 0x83, 2, op_ext<2>, "- -> any") \
  X(EXT4, 0x84, 2, op_ext<4>, "- -> any") \
  X(TUPLE1, 0x85, 2, op_small_tuple<1>, "any -> tuple") \
  X(TUPLE2, 0x86, 2, op_small_tuple<2>, "any any -> tuple") \
  X(TUPLE3, 0x87, 2, op_small_tuple<3>, "any any any -> tuple") \
  X(NEWTRUE, 0x88, 2, op_constant, "- -> bool") \
  X(NEWFALSE, 0x89, 2, op_constant, "- -> bool") \
  X(LONG1, 0x8a, 2, op_sized_scalar<1>, "- -> int") \
  X(LONG4, 0x8b, 2, op_sized_scalar<4>, "- -> int") \
  X(BINBYTES, 'B', 3, op_sized_scalar<4>, "- -> bytes") \
  X(SHORT_BINBYTES, 'C', 3, op_sized_scalar<1>, "- -> bytes") \
  X(SHORT_BINUNICODE, 0x8c, 4, op_string<1>, "- -> str") \
  X(BINUNICODE8, 0x8d, 4, op_string<8>, "- -> str") \
  X(BINBYTES8, 0x8e, 4, op_sized_scalar<8>, "- -> bytes") \
  X(EMPTY_SET, 0x8f, 4, op_empty_container, "- -> set") \
  X(ADDITEMS, 0x90, 4, op_additems, "set mark stackslice -> set") \
  X(FROZENSET, 0x91, 4, op_collection, "mark stackslice -> frozenset") \
  X(NEWOBJ_EX, 0x92, 4, op_newobj_ex, "any any any -> any") \
  X(STACK_GLOBAL, 0x93, 4, op_stack_global, "str str -> any") \
  X(MEMOIZE, 0x94, 4, op_memoize, "any -> any") \
  X(FRAME, 0x95, 4, op_frame, "- -> -") \
  X(BYTEARRAY8, 0x96, 5, op_sized_scalar<8>, "- -> bytearray") \
  X(NEXT_BUFFER, 0x97, 5, op_next_buffer, "- -> buffer") \
  X(READONLY_BUFFER, 0x98, 5, op_readonly_buffer, "buffer -> buffer")
// clang-format on
