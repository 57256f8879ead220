package dev.cairn.control;

public enum DiskUsage { SYSTEM_DISK, DATA_DISK }
