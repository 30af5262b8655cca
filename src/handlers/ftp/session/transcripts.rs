//! Transcript tests of the interpreter: command lines in, replies and
//! effects out, data-side events played by hand. No socket, no loop.
