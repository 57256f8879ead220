package dev.cairn.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** {@code cairn zones}: the region's availability zones (DescribeZones). */
@Command(name = "zones", description = "List the region's availability zones.")
final class RegionCommand extends ClientCommand implements Callable<Integer> {
    @Override
    public Integer call() throws Exception {
        ObjectNode r = api().call("DescribeZones", params());
        out().rows(r, r.path("ZoneSet"), List.of(new Output.Column("ZONE", "Zone"),
                new Output.Column("NAME", "ZoneName"), new Output.Column("STATE", "ZoneState")));
        return 0;
    }
}
