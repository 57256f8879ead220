package dev.cairn.api;
