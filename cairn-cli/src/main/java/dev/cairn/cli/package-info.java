package dev.cairn.cli;
