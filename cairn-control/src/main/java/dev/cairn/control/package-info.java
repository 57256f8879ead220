package dev.cairn.control;
