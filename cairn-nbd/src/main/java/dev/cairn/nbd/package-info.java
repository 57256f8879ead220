package dev.cairn.nbd;
